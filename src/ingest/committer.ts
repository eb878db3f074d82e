// Group commit: concurrent ingest requests are written in one shared transaction, so a durable
// commit (one fsync) is paid per group, not per request. A request is answered only after the
// group holding it has committed. If a group fails, each request is retried alone so one bad
// request cannot fail its neighbours.
import type { Store } from '../store/db.ts';
import { voteKey, type PreparedVote } from './vote.ts';
import { writeVotes } from './write.ts';

export type IngestResult = { accepted: number; duplicates: number };
type Job = { votes: PreparedVote[]; resolve(r: IngestResult): void; reject(e: unknown): void };

const MAX_GROUP_VOTES = 20_000;

export class GroupCommitter {
  readonly #store: Store;
  readonly #onStored: (votes: PreparedVote[]) => void;
  #queue: Job[] = [];
  #draining = false;
  /** Groups committed and votes in them, for the log and the benchmarks. */
  stats = { groups: 0, requests: 0 };

  constructor(store: Store, onStored: (votes: PreparedVote[]) => void = () => {}) {
    this.#store = store;
    this.#onStored = onStored;
  }

  submit(votes: PreparedVote[]): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ votes, resolve, reject });
      if (!this.#draining) {
        this.#draining = true;
        // Let the requests already read by the event loop join this group.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length) {
        let n = 0;
        let take = 0;
        while (take < this.#queue.length && (take === 0 || n + this.#queue[take]!.votes.length <= MAX_GROUP_VOTES)) {
          n += this.#queue[take]!.votes.length;
          take++;
        }
        const group = this.#queue.splice(0, take);
        try {
          await this.#commit(group);
        } catch {
          for (const job of group) await this.#commit([job]).catch((e) => job.reject(e));
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  async #commit(group: Job[]): Promise<void> {
    // The first occurrence of a (device, event id) in the group owns it; later ones are duplicates.
    const owner = new Map<string, Job>();
    const unique: PreparedVote[] = [];
    for (const job of group) {
      for (const v of job.votes) {
        const k = voteKey(v);
        if (!owner.has(k)) { owner.set(k, job); unique.push(v); }
      }
    }
    const fresh = await writeVotes(this.#store, unique);
    this.stats.groups++;
    this.stats.requests += group.length;
    const acceptedBy = new Map<Job, number>();
    for (const v of fresh) {
      const job = owner.get(voteKey(v))!;
      acceptedBy.set(job, (acceptedBy.get(job) ?? 0) + 1);
    }
    for (const job of group) {
      const accepted = acceptedBy.get(job) ?? 0;
      job.resolve({ accepted, duplicates: job.votes.length - accepted });
    }
    if (fresh.length) this.#onStored(fresh);
  }
}
