// Local-time bucketing: the day and hour a press belongs to in its location's zone.
// Expected values come from the zones' published rules, worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localParts, parseTimestamp, isValidTimeZone, validateOpeningHours } from '../src/domain/time.ts';
import { planSegments } from '../src/scores/scores.ts';

const at = (iso: string): number => Date.parse(iso);

test('Europe/Berlin spring forward (2026-03-29 02:00 CET → 03:00 CEST)', () => {
  assert.deepEqual(pick(localParts('Europe/Berlin', at('2026-03-29T00:59:00Z'))), ['2026-03-29', 1]);
  assert.deepEqual(pick(localParts('Europe/Berlin', at('2026-03-29T01:00:00Z'))), ['2026-03-29', 3], 'local 02:xx does not exist');
});

test('Europe/Berlin fall back (2026-10-25 03:00 CEST → 02:00 CET): hour 2 happens twice', () => {
  assert.deepEqual(pick(localParts('Europe/Berlin', at('2026-10-25T00:30:00Z'))), ['2026-10-25', 2]);
  assert.deepEqual(pick(localParts('Europe/Berlin', at('2026-10-25T01:30:00Z'))), ['2026-10-25', 2]);
  assert.deepEqual(pick(localParts('Europe/Berlin', at('2026-10-25T02:30:00Z'))), ['2026-10-25', 3]);
});

test('half-hour and 45-minute zones across midnight', () => {
  assert.deepEqual(pick(localParts('Asia/Kolkata', at('2026-03-10T18:29:59Z'))), ['2026-03-10', 23]);
  assert.deepEqual(pick(localParts('Asia/Kolkata', at('2026-03-10T18:30:00Z'))), ['2026-03-11', 0]);
  assert.deepEqual(pick(localParts('Asia/Kathmandu', at('2026-03-10T18:14:00Z'))), ['2026-03-10', 23]);
  assert.deepEqual(pick(localParts('Asia/Kathmandu', at('2026-03-10T18:15:00Z'))), ['2026-03-11', 0]);
  // Lord Howe Island shifts by half an hour for summer time (+11:00 in November).
  assert.deepEqual(pick(localParts('Australia/Lord_Howe', at('2026-11-20T12:59:00Z'))), ['2026-11-20', 23]);
  assert.deepEqual(pick(localParts('Australia/Lord_Howe', at('2026-11-20T13:00:00Z'))), ['2026-11-21', 0]);
});

test('west of UTC the local day lags', () => {
  assert.deepEqual(pick(localParts('America/New_York', at('2026-01-01T04:59:00Z'))), ['2025-12-31', 23]);
  assert.deepEqual(pick(localParts('America/New_York', at('2026-01-01T05:00:00Z'))), ['2026-01-01', 0]);
  assert.equal(localParts('America/New_York', at('2026-01-01T05:00:00Z')).weekday, 'thu');
});

test('timestamps: ISO with offset or epoch ms; anything else names the field', () => {
  assert.equal(parseTimestamp('2026-11-20T12:03:55+03:00', 'ts'), at('2026-11-20T09:03:55Z'));
  assert.equal(parseTimestamp('2026-11-20T12:03:55.250Z', 'ts'), at('2026-11-20T12:03:55.250Z'));
  assert.equal(parseTimestamp(1_795_000_000_000, 'ts'), 1_795_000_000_000);
  for (const bad of ['2026-11-20T12:03:55', '2026-02-30T10:00:00Z', '2026-11-20T25:00:00Z', 'yesterday', '', 1.5, null, 0]) {
    assert.throws(() => parseTimestamp(bad, 'events[2].ts'), (e: any) => e.code === 'invalid_field' && e.field === 'events[2].ts', String(bad));
  }
});

test('zones and opening hours are validated', () => {
  assert.ok(isValidTimeZone('Asia/Kolkata'));
  assert.ok(!isValidTimeZone('Mars/Olympus'));
  assert.deepEqual(validateOpeningHours({ mon: [['09:00', '21:00']], sat: [['22:00', '02:00']] }, 'openingHours'), { mon: [['09:00', '21:00']], sat: [['22:00', '02:00']] });
  assert.throws(() => validateOpeningHours({ mon: [['9:00', '21:00']] }, 'openingHours'), (e: any) => e.field === 'openingHours.mon[0]');
  assert.throws(() => validateOpeningHours({ funday: [] }, 'openingHours'), (e: any) => e.field === 'openingHours.funday');
});

test('a range is read from whole months plus the leftover days', () => {
  assert.deepEqual(planSegments('2026-01-15', '2026-04-10', 'location'), [
    { grain: 'd', from: '2026-01-15', to: '2026-01-31' },
    { grain: 'm', from: '2026-02', to: '2026-03' },
    { grain: 'd', from: '2026-04-01', to: '2026-04-10' },
  ]);
  assert.deepEqual(planSegments('2026-02-01', '2026-02-28', 'total'), [{ grain: 'm', from: '2026-02', to: '2026-02' }]);
  assert.deepEqual(planSegments('2024-02-01', '2024-02-28', 'total'), [{ grain: 'd', from: '2024-02-01', to: '2024-02-28' }], 'leap year: 28 Feb is not the end');
  assert.deepEqual(planSegments('2026-11-23', '2026-11-23', 'employee'), [{ grain: 'd', from: '2026-11-23', to: '2026-11-23' }]);
  assert.deepEqual(planSegments('2025-12-01', '2026-01-31', 'device'), [{ grain: 'm', from: '2025-12', to: '2026-01' }]);
  assert.deepEqual(planSegments('2026-01-01', '2026-12-31', 'hour'), [{ grain: 'h', from: '2026-01-01T00', to: '2026-12-31T23' }]);
});

function pick(p: { day: string; hour: number }): [string, number] {
  return [p.day, p.hour];
}
