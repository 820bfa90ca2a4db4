/**
 * Type tests of an application that has NOT augmented `SessionDataMap`, compiled alone by
 * tsconfig.test-plain.json (an augmentation applies to its whole compilation, and the runtime tests
 * import the example, which augments it). Never run: `tsc` fails when an `expectTypeOf` does not
 * hold or an `@ts-expect-error` has no error to expect. The augmented case is `augmented.ts`.
 */
import type { Request } from 'express';
import { expectTypeOf } from 'expect-type';
import { session, type RepriseData, type SessionCallback } from '@reprise/express';

// Without augmentation the data has no keys: nothing reads as `any`.
// biome-ignore lint/complexity/noBannedTypes: the empty object type is what is asserted
expectTypeOf<RepriseData>().toEqualTypeOf<{}>();

/** Never called: what req.session offers. */
export function reads(req: Request): void {
  // @ts-expect-error no key is declared: augment SessionDataMap to use one
  void req.session.views;
  expectTypeOf(req.session.id).toEqualTypeOf<string>();
  expectTypeOf(req.sessionID).toEqualTypeOf<string | undefined>();
  expectTypeOf(req.session.destroy).parameter(0).toEqualTypeOf<SessionCallback | undefined>();
  expectTypeOf(req.liveSession.data).toEqualTypeOf<RepriseData>();
  expectTypeOf(req.liveSession.id).toEqualTypeOf<string>();
}

/** Never called: the closing hook sees the data type and the close reason. */
export function hooks(): void {
  session({
    onClose: (closing, reason) => {
      expectTypeOf(closing.data).toEqualTypeOf<RepriseData>();
      expectTypeOf(reason).toEqualTypeOf<'evicted' | 'expired' | 'closed' | 'shutdown' | 'handover'>();
    },
  });
  // @ts-expect-error an unknown option does not compile (and is an OptionError at run time)
  session({ idleTimout: 1000 });
}
