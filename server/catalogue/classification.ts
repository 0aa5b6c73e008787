export type ClassScheme = 'clc' | 'udc' | 'ddc';

/** Chinese Library Classification: the 22 top-level classes. */
export const CLC_CLASSES = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'X', 'Z'] as const;

export const CLC_NAMES: Record<string, { en: string; zh: string }> = {
  A: { en: 'Marxism, Leninism, Mao Zedong Thought', zh: '马克思主义、列宁主义、毛泽东思想、邓小平理论' },
  B: { en: 'Philosophy and religion', zh: '哲学、宗教' },
  C: { en: 'Social sciences (general)', zh: '社会科学总论' },
  D: { en: 'Politics and law', zh: '政治、法律' },
  E: { en: 'Military science', zh: '军事' },
  F: { en: 'Economics', zh: '经济' },
  G: { en: 'Culture, science, education, sports', zh: '文化、科学、教育、体育' },
  H: { en: 'Languages and linguistics', zh: '语言、文字' },
  I: { en: 'Literature', zh: '文学' },
  J: { en: 'Arts', zh: '艺术' },
  K: { en: 'History and geography', zh: '历史、地理' },
  N: { en: 'Natural sciences (general)', zh: '自然科学总论' },
  O: { en: 'Mathematics, physics, chemistry', zh: '数理科学和化学' },
  P: { en: 'Astronomy and earth sciences', zh: '天文学、地球科学' },
  Q: { en: 'Biology', zh: '生物科学' },
  R: { en: 'Medicine and health', zh: '医药、卫生' },
  S: { en: 'Agriculture', zh: '农业科学' },
  T: { en: 'Industrial technology', zh: '工业技术' },
  U: { en: 'Transportation', zh: '交通运输' },
  V: { en: 'Aviation and aerospace', zh: '航空、航天' },
  X: { en: 'Environmental science and safety', zh: '环境科学、安全科学' },
  Z: { en: 'General works', zh: '综合性图书' },
};

/**
 * The top-level class of a classification mark: CLC's leading letter (TP312 → T), UDC's first digit
 * (616.12 → 6), Dewey's hundreds (616.12 → 600). Returns null when the mark does not fit the scheme.
 */
export function topClass(scheme: ClassScheme, mark: string): string | null {
  const m = mark.trim().toUpperCase();
  if (scheme === 'clc') {
    const c = m[0];
    return c && (CLC_CLASSES as readonly string[]).includes(c) ? c : null;
  }
  if (scheme === 'udc') return /^\d/.test(m) ? m[0]! : null;
  return /^\d{3}/.test(m) ? `${m[0]}00` : null;
}
