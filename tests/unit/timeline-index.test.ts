import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { TimelineIndex } from '../../src/infra/storage/json/repositories/index.js';

interface Item {
  id: string;
  owner: string;
  at: number;
}

/** The same questions answered by brute force over every record. */
function expected(store: MemoryStore, owner: string | undefined, from: number, to: number): string[] {
  return [...store.values<Item>('itens')]
    .filter((r) => (owner === undefined || r.owner === owner) && r.at >= from && r.at < to)
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => r.id);
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), id: fc.integer({ min: 0, max: 30 }), owner: fc.constantFrom('a', 'b', 'c'), at: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 30 }) }),
);

describe('TimelineIndex', () => {
  it('when records are inserted, moved, re-timed and deleted in any order, then every range lookup matches a full scan', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.integer({ min: -1, max: 21 }), fc.integer({ min: -1, max: 22 }), async (ops, from, to) => {
        const store = new MemoryStore(['itens']);
        const index = new TimelineIndex<Item>(store, 'itens', (r) => r.owner, (r) => [r.at, r.at + 3]);
        for (const o of ops) {
          await store.transact((tx) => (o.kind === 'put' ? tx.put('itens', { id: `i${o.id}`, owner: o.owner, at: o.at } as Item) : tx.delete('itens', `i${o.id}`)));
          // The merged order is cached between changes: ask for it midway too.
          expect(index.allBetween(-Infinity, Infinity).map((r) => r.id)).toEqual(expected(store, undefined, -Infinity, Infinity));
        }
        for (const owner of ['a', 'b', 'c']) {
          expect(index.between(owner, from, to).map((r) => r.id)).toEqual(expected(store, owner, from, to));
          // Spans are 3 long: the first accepted record overlapping [from, to), in order of start.
          const even = (r: Item) => Number(r.id.slice(1)) % 2 === 0;
          const overlap = expected(store, owner, -Infinity, Infinity)
            .map((id) => store.get<Item>('itens', id)!)
            .find((r) => r.at < to && r.at + 3 > from && even(r));
          expect(index.overlapping(owner, from, to, 3, even)?.id).toBe(overlap?.id);
        }
        expect(index.allBetween(from, to).map((r) => r.id)).toEqual(expected(store, undefined, from, to));
      }),
      { numRuns: 300 },
    );
  });

  it('when the collection is replaced wholesale, then the index is rebuilt from it', async () => {
    const store = new MemoryStore(['itens']);
    const index = new TimelineIndex<Item>(store, 'itens', (r) => r.owner, (r) => [r.at, r.at + 3]);
    await store.transact((tx) => tx.put('itens', { id: 'x', owner: 'a', at: 5 } as Item));
    await store.replaceAll(async () => new Map([['itens', [{ id: 'y', owner: 'a', at: 3 }, { id: 'z', owner: 'a', at: 1 }] as Item[]]]));
    expect(index.between('a', 0, 10).map((r) => r.id)).toEqual(['z', 'y']);
  });
});
