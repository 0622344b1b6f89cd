import { describe, expect, it } from 'vitest';
import { detectLang, dictionaries, format, t } from './i18n';
import { en } from './locales/en';

describe('i18n', () => {
  it.each([
    [null, ['zh-CN', 'en'], 'zh-CN'],
    [null, ['zh-TW'], 'zh-CN'],
    [null, ['en-US', 'zh-CN'], 'en'],
    [null, ['fr-FR'], 'en'],
    [null, [], 'zh-CN'],
    [null, undefined, 'zh-CN'],
    ['en', ['zh-CN'], 'en'],
    ['zh-CN', ['en-US'], 'zh-CN'],
    ['de', ['en-US'], 'en'],
  ] as const)('stored %s, browser %j → %s', (stored, browser, want) => {
    expect(detectLang(stored, browser as readonly string[] | undefined)).toBe(want);
  });

  it('both languages have every key, none empty, with the same placeholders', () => {
    const keys = Object.keys(en);
    for (const [lang, dict] of Object.entries(dictionaries)) {
      expect(Object.keys(dict).sort(), lang).toEqual([...keys].sort());
      for (const k of keys) {
        const v = dict[k as keyof typeof en];
        expect(v.trim().length, `${lang} ${k}`).toBeGreaterThan(0);
        const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
        expect(ph(v), `${lang} ${k}`).toEqual(ph(en[k as keyof typeof en]));
      }
    }
  });

  it('fills placeholders and leaves unknown ones', () => {
    expect(format('{n} 次播放 {x}', { n: 3 })).toBe('3 次播放 {x}');
    expect(t('video.views', { n: 5 }, 'zh-CN')).toBe('5 次播放');
    expect(t('video.views', { n: 5 }, 'en')).toBe('5 views');
  });

  it('says one thing and many things in English', () => {
    expect(t('video.views', { n: 1 }, 'en')).toBe('1 view');
    expect(t('video.views', { n: 0 }, 'en')).toBe('0 views');
    expect(t('video.views', { n: '1,234' }, 'en')).toBe('1,234 views');
    expect(t('libraries.videos', { n: 1 }, 'en')).toBe('1 video');
    expect(format('{n|a|b} {m|c|d}', { n: 1 })).toBe('a {m|c|d}');
  });
});
