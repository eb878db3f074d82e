// The Reports page in a real browser (Debian's Chromium through playwright-core, like
// test/browser/): pick a report and see it, download it in one click, and "email me this every …"
// creates a schedule that is listed and can be deleted. Skipped locally without Chromium.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { DEMO_USER } from '../../src/demo/seed.ts';
import { cookieHeader, launch, signIn, skip, startDemo, watch, type Demo } from './chromium.ts';

describe('reports page in Chromium', { skip, timeout: 120_000 }, () => {
  let demo: Demo;
  let server: Demo['server'];
  let browser: Browser;
  let page: Page;
  let orgId: string;
  let problems: string[];

  before(async () => {
    demo = await startDemo(14);
    ({ server, orgId } = demo);
    ({ browser, page } = await launch({ viewport: { width: 390, height: 844 }, timezoneId: 'Europe/Moscow', acceptDownloads: true, timeout: 8000 }));
    problems = watch(page);
  });
  after(async () => { await browser?.close(); await demo?.close(); });

  it('shows a report, downloads it, and schedules it by email', async () => {
    await signIn(page, server.url, DEMO_USER);
    await page.waitForURL(`**/orgs/${orgId}`);
    await page.getByRole('link', { name: 'Reports' }).click();
    await page.waitForURL(`**/orgs/${orgId}/reports`);
    const api = await (await fetch(`${server.url}/api/v1/orgs/${orgId}/reports/tactical?${new URLSearchParams({ from: await page.getByLabel('From').inputValue(), to: await page.getByLabel('To').inputValue() })}`,
      { headers: { cookie: await cookieHeader(page.context()) } })).json() as { locations: unknown[] };
    const rows = page.locator('table.grid tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), api.locations.length, 'one row per location, as the API');
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('group', { name: 'Download' }).getByRole('button', { name: 'Excel (.xlsx)' }).click()]);
    assert.match(file.suggestedFilename(), /tactical-.*\.xlsx$/);
    await page.getByLabel('Report').selectOption('employees');
    await page.getByText('No score below').waitFor();
    await page.getByRole('button', { name: 'Email me' }).click();
    const item = page.locator('ul.schedules li');
    await item.first().waitFor();
    assert.match(await item.first().innerText(), /week.*Employees.*09:00 Europe\/Moscow · EN/s);
    await item.first().getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No email schedules yet.').waitFor();
    assert.deepEqual(problems, []);
  });
});
