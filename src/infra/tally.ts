/** Open streams by key (an owner, a user); a key without streams is forgotten. */
export class Tally {
  private readonly counts = new Map<string, number>();

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string | undefined): void {
    if (key !== undefined) this.counts.set(key, this.count(key) + 1);
  }

  remove(key: string | undefined): void {
    if (key === undefined) return;
    const left = this.count(key) - 1;
    if (left > 0) this.counts.set(key, left);
    else this.counts.delete(key);
  }

  clear(): void {
    this.counts.clear();
  }
}
