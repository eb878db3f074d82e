import type { Store } from '../store/db.ts';
import type { AppContext } from '../http/context.ts';
export async function seedDemo(_store: Store, _o: { log(m: string): void }): Promise<{ orgName: string; votes: number }> { return { orgName: 'x', votes: 0 }; }
export function startDemoTraffic(_ctx: AppContext, _o: { log(m: string): void }): void {}
