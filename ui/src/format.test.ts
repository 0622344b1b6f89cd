import { describe, expect, it } from 'vitest';
import { bytes, duration, splitTags, isoDate, daysAgo } from './format';
import { niceMax } from './components/BarChart';
import { scanPercent } from './admin/Libraries';

describe('format', () => {
  it.each([
    [0, '0:00'],
    [5, '0:05'],
    [65, '1:05'],
    [3600, '1:00:00'],
    [3725.6, '1:02:06'],
  ])('duration(%f) = %s', (s, want) => expect(duration(s)).toBe(want));
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KB'],
    [5242880, '5.0 MB'],
    [107374182400, '100 GB'],
  ])('bytes(%i) = %s', (n, want) => expect(bytes(n)).toBe(want));
  it('splits tags on ASCII and Chinese commas', () => {
    expect(splitTags('动作, 科幻，冒险、 , x')).toEqual(['动作', '科幻', '冒险', 'x']);
  });
  it('dates are local YYYY-MM-DD', () => {
    expect(isoDate(new Date(2024, 0, 5))).toBe('2024-01-05');
    expect(daysAgo(29, new Date(2024, 1, 1))).toBe('2024-01-03');
  });
  it('chart scale rounds up to a readable number', () => {
    expect([0, 1, 7, 13, 240, 999].map(niceMax)).toEqual([1, 1, 10, 20, 250, 1000]);
  });
  it('library scan progress from counts or a percent', () => {
    expect(scanPercent({ id: 1, path: '/x', category_id: 0, scan_interval_minutes: 0, scan_scanned: 5, scan_total: 20 })).toBe(25);
    expect(scanPercent({ id: 1, path: '/x', category_id: 0, scan_interval_minutes: 0, scan_progress: 40 })).toBe(40);
    expect(scanPercent({ id: 1, path: '/x', category_id: 0, scan_interval_minutes: 0 })).toBeNull();
    expect(scanPercent({ id: 1, path: '/x', category_id: 0, scan_interval_minutes: 0, scan_progress: { scanned: 3, total: 4, percent: 75 } })).toBe(75);
    expect(scanPercent({ id: 1, path: '/x', category_id: 0, scan_interval_minutes: 0, scan_progress: { scanned: 0, total: 0, percent: 0 } })).toBeNull();
  });
});
