// The Reports page in a real browser (Debian's Chromium through playwright-core, like
// test/browser/): pick a report and see it, download it in one click, and "email me this every …"
// creates a schedule that is listed and can be deleted; the operational report's hours and devices
// against the API's answer; and the section tabs on a phone (main ones + "More") and on a desktop.
// Skipped locally without Chromium.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_USER } from '../../src/demo/seed.ts';
import { createDevice } from '../../src/devices/devices.ts';
import { cookieHeader, launch, newContext, shot, signIn, skip, startDemo, watch, type Demo } from './chromium.ts';

/** The tabs a phone shows in its row, and those behind "More" (the demo owner is no partner administrator). */
const MAIN = ['Overview', 'Trends', 'Reports', 'Alerts'];
const MORE = ['Rankings', 'Review', 'Misuse', 'Wall display', 'Manage', 'Access'];
const ALL = ['Overview', 'Trends', 'Rankings', 'Reports', 'Alerts', 'Review', 'Misuse', 'Wall display', 'Manage', 'Access'];

type Cell = { satisfied: number; dissatisfied: number; flagged: number } | null;
type Slice = { id: string; label: string; hours: Cell[] };
type OpReport = { locations: Array<Slice & { timezone: string; day: string; touchpoints: Slice[] }>; devices: Array<{ id: string; name: string | null; problem: string; lastSeenAt: string | null }> };

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

  /** A desktop window signed in as the phone page's user, closed afterwards; `seen` collects its page errors. */
  const onDesktop = async (fn: (desk: BrowserContext, p: Page, seen: string[]) => Promise<void>): Promise<void> => {
    const desk = await newContext(page.context().browser()!, { timezoneId: 'Europe/Moscow', timeout: 8000 });
    try {
      await desk.addCookies(await page.context().cookies());
      const p = await desk.newPage();
      await fn(desk, p, watch(p));
    } finally { await desk.close(); }
  };

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

  it('on a phone shows the main tabs and "More" for the rest, by mouse and by keyboard', async () => {
    await page.goto(`${server.url}/orgs/${orgId}`);
    const nav = page.getByRole('navigation', { name: 'Sections', exact: true });
    const more = nav.getByRole('button', { name: 'More' });
    await more.waitFor();
    assert.deepEqual(await nav.getByRole('link').allInnerTexts(), MAIN, 'only the main destinations in the row');
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    const menu = page.locator(`[id="${await more.getAttribute('aria-controls')}"]`);
    assert.ok(await menu.isHidden());

    await more.click();
    assert.equal(await more.getAttribute('aria-expanded'), 'true');
    assert.deepEqual(await menu.getByRole('link').allInnerTexts(), MORE, 'the menu holds the other destinations');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
    await shot(page, 'nav-phone');

    // Following a destination navigates and closes the menu; inside it, that page is the current one.
    await menu.getByRole('link', { name: 'Manage' }).click();
    await page.waitForURL(`**/orgs/${orgId}/manage/locations`);
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    assert.ok(await menu.isHidden());
    assert.equal(await nav.locator('[aria-current="page"]:visible').count(), 0, 'no tab in the row is current…');
    assert.match(await more.getAttribute('class') ?? '', /\bcurrent\b/, '…"More" holds it');

    // Keyboard: Enter opens, Escape closes and gives the focus back to the button.
    await more.focus();
    await page.keyboard.press('Enter');
    assert.equal(await more.getAttribute('aria-expanded'), 'true');
    assert.equal(await menu.getByRole('link', { name: 'Manage' }).getAttribute('aria-current'), 'page');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), MORE[0], 'Tab leads from the button into the menu');
    await page.keyboard.press('Escape');
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    assert.ok(await more.evaluate((b) => b === document.activeElement), 'focus back on "More"');
    // Enter, Tab to the first destination, Enter: there, with the menu closed.
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/orgs/${orgId}/rankings`);
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    // The main tabs and "More" fit the phone's width in both languages: nothing to scroll to.
    const fits = async (): Promise<boolean> => page.locator('nav.tabs .tabs-row').evaluate((r) => r.scrollWidth <= r.clientWidth);
    assert.ok(await fits(), 'the English row fits');
    await page.getByRole('button', { name: 'RU' }).click();
    await page.getByRole('button', { name: 'Ещё' }).waitFor();
    assert.ok(await fits(), 'the Russian row fits');
    await page.getByRole('button', { name: 'EN' }).click();
    await more.waitFor();
    assert.deepEqual(problems, []);
  });

  it('on a desktop shows every tab in one row, without "More", in English and Russian', async () => {
    await onDesktop(async (desk, p, seen) => {
      await p.goto(`${server.url}/orgs/${orgId}`);
      let nav = p.getByRole('navigation', { name: 'Sections', exact: true });
      await nav.getByRole('link', { name: 'Overview' }).waitFor();
      assert.deepEqual(await nav.getByRole('link').allInnerTexts(), ALL);
      assert.equal(await nav.getByRole('button').count(), 0, 'no "More" button');
      const fits = async (): Promise<boolean> => p.locator('nav.tabs .tabs-row').evaluate((r) => r.scrollWidth <= r.clientWidth);
      assert.ok(await fits(), 'the row needs no scrolling');
      await p.getByRole('button', { name: 'RU' }).click();
      nav = p.getByRole('navigation', { name: 'Разделы', exact: true });
      await nav.getByRole('link', { name: 'Обзор' }).waitFor();
      assert.equal(await nav.getByRole('link').count(), ALL.length);
      assert.ok(await fits(), 'the Russian row needs no scrolling either');
      assert.deepEqual(seen, []);
    });
  });

  it('shows the operational report hour by hour, as the API, and the devices with a problem', async () => {
    await onDesktop(async (desk, p, seen) => {
      const headers = { cookie: await cookieHeader(desk) };
      const org = await (await fetch(`${server.url}/api/v1/orgs/${orgId}`, { headers })).json() as { scoring: { minSample: number; thresholds: number[] } };
      // A panel placed yesterday and last heard from three hours ago: offline (after an hour by default).
      const firstLoc = (await demo.store.db.selectFrom('locations').select(['id', 'name', 'timezone']).where('org_id', '=', orgId).orderBy('name').executeTakeFirstOrThrow());
      const panel = await createDevice(demo.store, orgId, { kind: 'panel', name: 'Till 3 panel', locationId: firstLoc.id, touchpointId: null, employeeId: null });
      const lastSeen = Date.now() - 3 * 3_600_000;
      await demo.store.db.updateTable('devices').set({ claimed_at: Date.now() - 86_400_000, last_seen_at: lastSeen }).where('id', '=', panel.id).execute();

      // Two days ago by UTC is a whole past day in every zone (the demo has 14).
      const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
      await p.goto(`${server.url}/orgs/${orgId}/reports`);
      await p.getByLabel('Report').selectOption('operational');
      await p.locator('input[type="date"]').fill(day);
      const api = await (await fetch(`${server.url}/api/v1/orgs/${orgId}/reports/operational?day=${day}`, { headers })).json() as OpReport;
      const loc = api.locations.find((l) => l.hours.some((c) => c && c.satisfied + c.dissatisfied > 0));
      assert.ok(loc, 'the demo has votes that day');
      assert.equal(loc.day, day);
      const card = p.locator(`[id="op-${loc.id}"]`);
      await card.locator('table.op-hours').waitFor();
      assert.match(await card.innerText(), new RegExp(loc.timezone.replace('/', '\\/')), 'the hours are labelled with the zone');

      // Expected: the hours from the first to the last with a vote; per cell the counts, the share
      // (en-GB, whole percent) and the score's colour by the org's thresholds.
      const voted = loc.hours.flatMap((c, h) => (c && c.satisfied + c.dissatisfied ? [h] : []));
      const hours = Array.from({ length: voted.at(-1)! - voted[0]! + 1 }, (_, i) => voted[0]! + i);
      const pct = new Intl.NumberFormat('en-GB', { style: 'percent', maximumFractionDigits: 0 });
      const scoreOf = (s: number, k: number): number | null => (k === 0 || k < org.scoring.minSample ? null : 1 + org.scoring.thresholds.filter((t) => s / k >= t).length);
      // Touchpoints beneath the location: those with a vote that day (a door counter's visitors alone leave a row with none).
      const tps = loc.touchpoints.filter((x) => x.hours.some((c) => c && c.satisfied + c.dissatisfied + c.flagged > 0));
      const expected = [loc, ...tps].map((x) => ({
        slice: x.id,
        cells: hours.map((h) => {
          const c = x.hours[h]!;
          const k = c.satisfied + c.dissatisfied;
          return { hour: h, share: k ? pct.format(c.satisfied / k) : '—', counts: [c.satisfied, c.dissatisfied], score: scoreOf(c.satisfied, k) };
        }),
      }));
      const shown = await card.locator('table.op-hours tbody tr').evaluateAll((trs) => trs.map((tr) => ({
        slice: tr.getAttribute('data-slice'),
        cells: [...tr.querySelectorAll('td[data-hour]')].map((td) => {
          const share = td.querySelector('.hour-share')!;
          return {
            hour: Number(td.getAttribute('data-hour')), share: share.textContent,
            counts: (td.querySelector('.hour-counts')!.textContent!.replace(/,(?=\d)/g, '').match(/\d+/g) ?? []).map(Number),
            score: Number(/\bs([1-5])\b/.exec(share.className)?.[1]) || null,
          };
        }),
      })));
      assert.ok(expected[0]!.cells.some((c) => c.score !== null), 'some hour has a score to colour');
      assert.deepEqual(shown, expected, 'the location and each touchpoint beneath it, hour by hour, as the API');

      // The devices with a problem: the offline panel, its location, and its last contact in the location's zone.
      assert.ok(api.devices.some((d) => d.id === panel.id && d.problem === 'offline'));
      const row = p.locator(`#op-devices tr[data-device="${panel.id}"]`);
      const text = await row.innerText();
      assert.match(text, /Till 3 panel/);
      assert.match(text, new RegExp(firstLoc.name));
      assert.match(text, /Offline/);
      const hhmm = new Intl.DateTimeFormat('en-GB', { timeZone: firstLoc.timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(lastSeen);
      assert.ok(text.includes(hhmm), `last seen ${hhmm} in ${firstLoc.timezone}: ${text}`);
      assert.equal(await p.locator('#op-devices tbody tr').count(), api.devices.length, 'every device the API lists');

      await p.locator('input[type="date"]').blur();
      await card.scrollIntoViewIfNeeded();
      await p.evaluate(() => scrollBy(0, -120));
      await shot(p, 'report-operational');
      assert.deepEqual(seen, []);
    });
  });

  it('on a phone the hour tables scroll in their own box, not the page', async () => {
    await page.goto(`${server.url}/orgs/${orgId}/reports`);
    await page.getByLabel('Report').selectOption('operational');
    await page.locator('input[type="date"]').fill(new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10));
    const wrap = page.locator('.op-location .table-wrap').first();
    await wrap.waitFor();
    assert.ok(await wrap.evaluate((w) => w.scrollWidth > w.clientWidth), 'the day is wider than a phone: its box scrolls');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page itself does not scroll sideways (${overflow} px too wide)`);
    assert.deepEqual(problems, []);
  });

  it('on a phone the location boxes sit beside their names and the tables keep each text in its cell', async () => {
    await page.goto(`${server.url}/orgs/${orgId}/reports`);
    const set = page.getByRole('group', { name: 'Locations' });
    const hint = set.getByText('none ticked: all locations');
    await hint.waitFor();
    await set.scrollIntoViewIfNeeded();
    // Each box and its name make one unit: the box centred on the name's first line, both inside the label,
    // no two labels overlapping, every one inside the fieldset and above the hint (on its own line).
    const layout = await set.evaluate((fs) => {
      const box = (r: DOMRect) => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom, mid: (r.top + r.bottom) / 2 });
      // The first line of the label's text, whatever element holds it.
      const nameLine = (l: Element): DOMRect => {
        const walk = document.createTreeWalker(l, NodeFilter.SHOW_TEXT);
        let node: Node | null;
        while ((node = walk.nextNode()) && !node.textContent!.trim());
        const range = document.createRange();
        range.selectNodeContents(node!);
        return range.getClientRects()[0]!;
      };
      const hintEl = [...fs.querySelectorAll('*')].find((e) => e.children.length === 0 && e.textContent === 'none ticked: all locations')!;
      return {
        set: box(fs.getBoundingClientRect()), hint: box(hintEl.getBoundingClientRect()),
        labels: [...fs.querySelectorAll('label')].map((l) => ({
          text: l.textContent!.trim(), label: box(l.getBoundingClientRect()),
          input: box(l.querySelector('input')!.getBoundingClientRect()),
          line: box(nameLine(l)),
        })),
      };
    });
    assert.ok(layout.labels.length >= 2, 'the demo has several locations');
    const inside = (a: { left: number; right: number; top: number; bottom: number }, b: typeof a): boolean => a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
    const apart = (a: { left: number; right: number; top: number; bottom: number }, b: typeof a): boolean => a.right <= b.left + 0.5 || b.right <= a.left + 0.5 || a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5;
    for (const [i, l] of layout.labels.entries()) {
      assert.ok(inside(l.input, l.label) && inside(l.line, l.label), `${l.text}: box and name inside one label`);
      assert.ok(l.input.right <= l.line.left, `${l.text}: the box before its name`);
      assert.ok(Math.abs(l.input.mid - l.line.mid) <= 3, `${l.text}: the box centred on the name's line (${l.input.mid} vs ${l.line.mid})`);
      assert.ok(inside(l.label, layout.set), `${l.text}: inside the fieldset`);
      assert.ok(l.label.bottom <= layout.hint.top + 0.5, `${l.text}: above the hint, which has its own line`);
      for (const m of layout.labels.slice(i + 1)) assert.ok(apart(l.label, m.label), `${l.text} and ${m.text} do not overlap`);
    }
    // The whole label ticks its box: a click on the name.
    const name = layout.labels[0]!.line;
    const tick = set.getByRole('checkbox', { name: layout.labels[0]!.text });
    await page.mouse.click(name.left + 4, name.mid);
    assert.ok(await tick.isChecked(), 'a click on the name ticks the box');
    await page.mouse.click(name.left + 4, name.mid);
    await hint.waitFor();

    for (const kind of ['tactical', 'employees']) {
      await page.getByLabel('Report').selectOption(kind);
      await page.getByText(kind === 'employees' ? 'No score below' : 'Changes in percentage points').waitFor();
      const wrap = page.locator('.table-wrap:has(table.grid)').first();
      // No text runs out of its cell (or out of a box inside it, e.g. a clipped interval): nothing wider than its own box.
      const spills = await wrap.evaluate((w) => [...w.querySelectorAll('th, td, th *, td *')]
        .filter((e) => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}: “${e.textContent}” ${e.scrollWidth} > ${e.clientWidth}`));
      assert.deepEqual(spills, [], `${kind}: every text fits its cell`);
      // Wider than the phone, the table scrolls in its own box and the name column stays in view.
      assert.ok(await wrap.evaluate((w) => w.scrollWidth > w.clientWidth), `${kind}: its columns are wider than a phone: the box scrolls`);
      const names = await wrap.evaluate(async (w) => {
        w.scrollLeft = w.scrollWidth;
        await new Promise((r) => requestAnimationFrame(r));
        const left = w.getBoundingClientRect().left;
        return [...w.querySelectorAll('tr > :first-child')].map((c) => Math.round(c.getBoundingClientRect().left - left));
      });
      assert.ok(names.every((x) => x === 0), `${kind}: the name column stays put when the table scrolls (${names})`);
      await wrap.evaluate((w) => { w.scrollLeft = 0; });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${kind}: the page does not scroll sideways (${overflow} px too wide)`);
    }
    await page.getByLabel('Report').selectOption('tactical');
    await page.getByText('Changes in percentage points').waitFor();
    await shot(page, 'report-phone', true);
    assert.deepEqual(problems, []);
  });
});
