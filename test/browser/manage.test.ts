// The management pages and the partner console in Debian's Chromium (playwright-core): edit a
// location's opening hours and see the change, see the server's field error next to the field,
// look at the other management pages, and open the partner console and follow it into an org.
// Screenshots go to docs/screenshots/manage-*.png and partner.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { adminToken, ADMIN_EMAIL } from '../../src/accounts/accounts.ts';
import { addSession, callApi, launch, shot, skip, startDemo, watch, type Demo } from './chromium.ts';

const WEEKDAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

describe('management pages in Chromium', { skip, timeout: 120_000 }, () => {
  let demo: Demo;
  let server: Demo['server'];
  let browser: Browser;
  let page: Page;
  let orgId: string;
  let orgName: string;
  let token: string;
  let problems: string[];
  const call = (path: string, method = 'GET', body?: unknown): Promise<any> => callApi(server.url, token, method, path, body);

  before(async () => {
    demo = await startDemo(8);
    ({ server, orgId, orgName } = demo);
    token = await adminToken(demo.store);
    // A fleet with a story: most devices heard from a minute ago, one on a low battery, one silent
    // for 25 minutes (stale); and a second client of the demo partner with an offline device.
    const now = Date.now();
    const devices = await demo.store.db.selectFrom('devices').select('id').where('org_id', '=', orgId).orderBy('id').execute();
    for (const [i, d] of devices.entries()) {
      const lastSeen = i === 1 ? now - 25 * 60_000 : now - 60_000 - i * 7_000;
      await demo.store.db.updateTable('devices').set({ claimed_at: now - 30 * 86_400_000, last_seen_at: lastSeen, battery: i === 2 ? 9 : 40 + (i * 7) % 60 }).where('id', '=', d.id).execute();
    }
    const partnerId = (await call(`/api/v1/orgs/${orgId}`)).partnerId as string;
    const bistro = await call('/api/v1/orgs', 'POST', { name: 'Bistro Nord', partnerId });
    const bistroLoc = await call(`/api/v1/orgs/${bistro.id}/locations`, 'POST', { name: 'Hafen', timezone: 'Europe/Berlin' });
    const panel = await call(`/api/v1/orgs/${bistro.id}/devices`, 'POST', { kind: 'panel', name: 'Hafen panel', locationId: bistroLoc.id });
    await demo.store.db.updateTable('devices').set({ claimed_at: now - 86_400_000, last_seen_at: now - 5 * 3_600_000 }).where('id', '=', panel.id).execute();
    const launched = await launch();
    ({ browser, page } = launched);
    // Signed in as the instance administrator (it has no password).
    await addSession(launched.context, demo, ADMIN_EMAIL);
    // Signed in from the start, so no 401; the refused time zone below is an expected 400.
    problems = watch(page, [], /status of 400/);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('edits a location\'s opening hours, shows a bad time zone\'s error beside the field, and shows the change', async () => {
    await page.goto(`${server.url}/orgs/${orgId}/manage/locations`);
    const loc = (await call(`/api/v1/orgs/${orgId}/locations`)).rows[0] as { id: string; name: string; timezone: string };
    const row = page.locator(`tr[data-location="${loc.id}"]`);
    await row.waitFor();
    await page.getByRole('link', { name: 'Manage' }).waitFor();
    await row.getByRole('button', { name: 'Edit' }).click();
    const form = page.locator(`#loc-${loc.id}-form`);
    await form.waitFor();

    // A raw offset is refused by the server; its message appears at the time zone field.
    const tz = form.getByLabel('Time zone');
    await tz.fill('+03:00');
    await form.getByRole('button', { name: 'Save' }).click();
    const err = form.locator(`#loc-${loc.id}-tz-err`);
    await err.waitFor();
    assert.match(await err.innerText(), /IANA/);
    assert.equal(await tz.getAttribute('aria-invalid'), 'true');
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-invalid') === 'true');
    assert.equal(await tz.evaluate((el) => el === document.activeElement), true, 'the keyboard focus lands on the refused field');
    await shot(page, 'manage-location-error');
    await tz.fill(loc.timezone);

    // Today's hours (in the location's zone) become 07:30–23:30.
    const today = WEEKDAY[new Date(new Date().toLocaleString('en-US', { timeZone: loc.timezone })).getDay()]!;
    const day = form.locator(`[data-day="${today}"]`);
    if (!(await form.getByLabel('Set opening hours').isChecked())) await form.getByLabel('Set opening hours').check();
    if (await day.locator('input[type=time]').count() === 0) await day.getByRole('button', { name: 'Add hours' }).click();
    await day.locator('input[type=time]').nth(0).fill('07:30');
    await day.locator('input[type=time]').nth(1).fill('23:30');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await row.locator('.hours-cell', { hasText: '07:30–23:30' }).waitFor();
    const stored = (await call(`/api/v1/orgs/${orgId}/locations`)).rows.find((l: any) => l.id === loc.id);
    assert.deepEqual(stored.openingHours[today][0], ['07:30', '23:30']);
    assert.equal(stored.timezone, loc.timezone, 'the refused zone was not stored');
    await shot(page, 'manage-locations', true);
  });

  it('shows the other management pages', async () => {
    for (const section of ['touchpoints', 'employees', 'devices', 'scoring']) {
      await page.getByRole('navigation', { name: 'Management sections' }).getByRole('link', { name: { touchpoints: 'Touchpoints', employees: 'Employees and shifts', devices: 'Devices', scoring: 'Score thresholds' }[section]! }).click();
      await page.waitForURL(`**/manage/${section}`);
      await page.locator('table.mtable tbody tr, .scale').first().waitFor();
      await shot(page, `manage-${section}`, true);
    }
    // The fleet table labels every time with its zone; the preview shows all five colours.
    await page.getByRole('link', { name: 'Score thresholds' }).click();
    assert.equal(await page.locator('.scale > span').count(), 5);
    await page.getByLabel('Score 5 from (%)').fill('95');
    assert.match(await page.locator('.bands').innerText(), /Score 5: 95/);
    // In Russian: the same page, its numbers in the Russian locale.
    await page.getByRole('button', { name: 'RU' }).click();
    await page.getByRole('heading', { name: 'Пороги оценки', level: 1 }).waitFor();
    assert.match(await page.locator('.bands').innerText(), /Оценка 5: 95\s?%/);
    await shot(page, 'manage-scoring-ru');
    await page.getByRole('button', { name: 'EN' }).click();
    await page.getByRole('heading', { name: 'Score thresholds', level: 1 }).waitFor();
  });

  it('claims a device by the code on its label and moves it', async () => {
    const made = await call(`/api/v1/orgs/${orgId}/devices/bulk`, 'POST', { kind: 'panel', count: 1, namePrefix: 'Spare' }) as { devices: Array<{ id: string; claimCode: string }> };
    const dev = made.devices[0]!;
    const locs = (await call(`/api/v1/orgs/${orgId}/locations`)).rows as Array<{ id: string; name: string }>;
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.waitForURL('**/manage/devices');
    const claim = page.locator('#claim-form');
    await claim.getByLabel('Claim code').fill(dev.claimCode.toLowerCase());
    await claim.getByLabel('Location').selectOption(locs[1]!.id);
    await claim.getByRole('button', { name: 'Claim' }).click();
    await claim.getByText('is placed and can send presses').waitFor();
    const row = page.locator(`tr[data-device="${dev.id}"]`);
    await row.getByText(locs[1]!.name).waitFor();
    // Move it to the first location from now on.
    await row.getByRole('button', { name: 'Move' }).click();
    const move = page.locator('#move-form');
    await move.getByLabel('Location').selectOption(locs[0]!.id);
    await move.getByRole('button', { name: 'Move' }).click();
    await row.getByText(locs[0]!.name).waitFor();
    const placed = (await call(`/api/v1/orgs/${orgId}/devices/${dev.id}`)) as { locationId: string; status: string };
    assert.deepEqual([placed.locationId, placed.status], [locs[0]!.id, 'active']);
  });

  it('opens the partner console and follows an organisation into its overview', async () => {
    await page.getByRole('link', { name: 'Partner console' }).click();
    await page.waitForURL('**/partner');
    const row = page.locator(`tr[data-org="${orgId}"]`);
    await row.waitFor();
    // The client with a device offline comes first.
    assert.match(await page.locator('table.partner tbody tr').first().innerText(), /Bistro Nord[\s\S]*Devices offline/);
    assert.ok((await row.innerText()).includes(orgName));
    await row.locator('.share').first().waitFor();
    await shot(page, 'partner', true);
    await row.getByRole('link', { name: orgName }).click();
    await page.waitForURL(`**/orgs/${orgId}`);
    await page.locator('table.locations tbody tr').first().waitFor();
  });

  it('fits a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/orgs/${orgId}/manage/locations`);
    await page.locator('table.mtable tbody tr').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `no sideways scrolling of the page (${overflow}px)`);
    await shot(page, 'manage-phone');
    assert.deepEqual(problems, []);
  });
});
