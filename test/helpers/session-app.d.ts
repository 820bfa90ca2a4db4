import type Koa from 'koa';
import type { SessionMiddleware, SessionOptions } from '@reprise/koa';

/** The session data of the test app: a Map and a Date, so every store is checked on the codec's richer types too. */
export type VisitorData = {
  name?: string;
  cart?: Map<string, number>;
  since?: Date;
};

/** What `GET /me` and `POST /visit` answer: the session as JSON. */
export interface VisitorView {
  sessionId: string | null;
  name: string | null;
  cart: [string, number][];
  since: string | null;
}

/** The cookie signing key of every test app and fixture process. */
export declare const TEST_KEYS: string[];

/** The test app: `POST /visit?name=N&item=I`, `GET /me`, `GET /stats`. See session-app.js. */
export declare function sessionApp(options: SessionOptions<VisitorData>): { app: Koa; middleware: SessionMiddleware<VisitorData> };
