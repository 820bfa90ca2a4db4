/**
 * Type tests of an application that augments `SessionDataMap`, as the README shows. Compiled alone by
 * tsconfig.test-augmented.json. Never run: `tsc` fails when an `expectTypeOf` does not hold or an
 * `@ts-expect-error` has no error to expect.
 */
import type { Request } from 'express';
import { expectTypeOf } from 'expect-type';
import { session } from '@reprise/express';

declare module '@reprise/express' {
  interface SessionDataMap {
    views?: number;
    cart?: string[];
  }
}

/** Never called: typed reads and writes. */
export function handler(req: Request): void {
  expectTypeOf(req.session.views).toEqualTypeOf<number | undefined>();
  expectTypeOf(req.session.cart).toEqualTypeOf<string[] | undefined>();
  expectTypeOf(req.session.views).not.toBeAny();
  req.session.views = (req.session.views ?? 0) + 1;
  // @ts-expect-error a typo is not a key of SessionDataMap
  req.session.veiws = 1;
  // @ts-expect-error a wrong type
  req.session.views = 'one';
  req.session = { views: 1 };
  req.session = null;
  // @ts-expect-error not a key of SessionDataMap
  req.session = { views: 1, admin: true };
  expectTypeOf(req.liveSession.data.cart).toEqualTypeOf<string[] | undefined>();
}

/** Never called: hooks get the augmented data type without a type argument. */
export function hooks(): void {
  session({
    onClose: (closing) => {
      expectTypeOf(closing.data.views).toEqualTypeOf<number | undefined>();
    },
    onRestore: (restored, snapshot) => {
      expectTypeOf(restored.data.cart).toEqualTypeOf<string[] | undefined>();
      expectTypeOf(snapshot.data.views).toEqualTypeOf<number | undefined>();
    },
  });
}
