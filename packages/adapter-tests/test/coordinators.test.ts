import { expect } from 'chai';
import type { Claim, HandoverOutcome, Lease, SessionCoordinator } from '@reprise/core';
import { MemoryCluster, MemoryCoordinator } from '@reprise/memory';
import { runCoordinatorTests } from '../src/index.js';
import { runInChildMocha } from './support/child-mocha.js';
import type { ChildRunReport } from './support/child-mocha.js';

// The reference coordinator passes the whole suite.
const cluster = new MemoryCluster();
runCoordinatorTests('MemoryCoordinator', () => new MemoryCoordinator(cluster));

/**
 * A MemoryCoordinator with one defect: each override replaces one method (it may call the sound
 * one, `sound`). The suite must fail on each defect, in the checks that are about it.
 */
function broken(overrides: (sound: SessionCoordinator, cluster: MemoryCluster) => Partial<SessionCoordinator>): () => SessionCoordinator {
  const shared = new MemoryCluster();
  return () => {
    const sound = new MemoryCoordinator(shared);
    const patch = overrides(sound, shared);
    return new Proxy(sound, {
      get(target, name) {
        if (Object.hasOwn(patch, name)) return patch[name as keyof SessionCoordinator];
        const value = Reflect.get(target, name, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}

function runSuite(factory: () => SessionCoordinator): Promise<ChildRunReport> {
  return runInChildMocha((fns) => runCoordinatorTests('coordinator', factory, fns, { shortLeaseMs: 200 }));
}

const failed = (report: ChildRunReport): string[] => report.failed.map(({ title }) => title.replace(/^coordinator /, ''));

describe('runCoordinatorTests catches broken coordinators', function () {
  this.timeout(60_000);

  it('passes the reference (sanity: the child run itself works)', async () => {
    const shared = new MemoryCluster();
    const report = await runSuite(() => new MemoryCoordinator(shared));
    expect(failed(report)).to.deep.equal([]);
    expect(report.passed.length).to.be.at.least(12);
  });

  it('a claim that ignores a live lease of another instance (two owners)', async () => {
    const report = await runSuite(
      broken((sound) => ({
        claim: async (sessionId: string, leaseMs: number): Promise<Claim> => {
          const claim = await sound.claim(sessionId, leaseMs);
          return claim.held ? claim : { held: true, lease: { sessionId, owner: 'whoever', token: 1 } };
        },
      })),
    );
    expect(failed(report).some((t) => t.includes('is refused and names the owner'))).to.equal(true);
    expect(failed(report).some((t) => t.includes('exactly one holds each'))).to.equal(true);
  });

  it('tokens that do not increase (a stale owner could no longer be fenced)', async () => {
    const report = await runSuite(
      broken((sound, cluster) => ({
        claim: async (sessionId: string, leaseMs: number): Promise<Claim> => {
          const claim = await sound.claim(sessionId, leaseMs);
          return claim.held ? { held: true, lease: { ...claim.lease, token: 1 } } : claim;
        },
        release: async (lease: Lease): Promise<boolean> => {
          const current = await sound.owner(lease.sessionId);
          return current !== undefined && current.owner === lease.owner && cluster.release(lease.sessionId, current.owner, current.token);
        },
      })),
    );
    expect(failed(report).some((t) => t.includes('tokens strictly increase'))).to.equal(true);
  });

  it('renew that takes back leases it lost', async () => {
    const report = await runSuite(
      broken((sound) => ({
        renew: async (leases: readonly Lease[], leaseMs: number): Promise<string[]> => {
          await Promise.all(leases.map((lease) => sound.claim(lease.sessionId, leaseMs)));
          return [];
        },
      })),
    );
    expect(failed(report).some((t) => t.includes('renew returns the sessions no longer held'))).to.equal(true);
  });

  it('hand-over requests that never reach the owner', async () => {
    const report = await runSuite(
      broken(() => ({
        requestHandover: async (): Promise<HandoverOutcome> => 'released',
      })),
    );
    expect(failed(report).some((t) => t.includes("the owner's member is asked"))).to.equal(true);
  });

  it("a release that does not check the token (a stale owner ends its successor's lease)", async () => {
    const report = await runSuite(
      broken((sound, cluster) => ({
        release: async (lease: Lease): Promise<boolean> => {
          const current = await sound.owner(lease.sessionId);
          if (current === undefined) return false;
          return cluster.release(lease.sessionId, current.owner, current.token);
        },
      })),
    );
    expect(failed(report).some((t) => t.includes('release ends the lease once'))).to.equal(true);
  });

  it("a claim that drops its deadline (a dead instance's sessions would never be adopted)", async () => {
    const report = await runSuite(broken((sound) => ({ claim: (sessionId: string, leaseMs: number) => sound.claim(sessionId, leaseMs) })));
    expect(failed(report).some((t) => t.includes('adoptable lists the sessions past their deadline'))).to.equal(true);
  });

  it("adoptable that also lists live leases (two instances would run one session's hooks)", async () => {
    const deadlines = new Map<string, number>();
    const report = await runSuite(
      broken((sound) => ({
        claim: async (sessionId: string, leaseMs: number, deadline?: number): Promise<Claim> => {
          if (deadline !== undefined) deadlines.set(sessionId, deadline);
          return sound.claim(sessionId, leaseMs, deadline);
        },
        adoptable: async (limit: number): Promise<string[]> => {
          await sound.adoptable(limit); // its argument checks
          return [...deadlines]
            .filter(([, deadline]) => deadline <= Date.now())
            .sort((a, b) => a[1] - b[1])
            .slice(0, limit)
            .map(([id]) => id);
        },
      })),
    );
    expect(failed(report).some((t) => t.includes('not a live lease'))).to.equal(true);
  });

  it('adoptable in the wrong order (the oldest deadlines would wait)', async () => {
    const report = await runSuite(
      broken((sound) => ({
        adoptable: async (limit: number) => (await sound.adoptable(limit === 1 ? 1 : 10_000)).reverse().slice(0, limit),
      })),
    );
    expect(failed(report).some((t) => t.includes('oldest deadline first'))).to.equal(true);
  });

  it('renew that extends nothing (leases lapse under live sessions)', async () => {
    const report = await runSuite(broken(() => ({ renew: async () => [] })));
    expect(failed(report).some((t) => t.includes('renew keeps held leases past their first term'))).to.equal(true);
  });
});
