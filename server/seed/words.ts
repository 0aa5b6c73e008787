// Word lists the demo library's titles, names and departments are composed from.

export const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '胡', '朱', '高', '林', '何', '郭', '马', '罗', '梁', '宋', '郑', '谢', '韩', '唐', '冯', '于', '董', '萧'];
export const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀英', '霞', '平', '刚', '桂英', '华', '欣怡', '子轩', '浩然', '梓涵', '一诺', '思远', '雨桐', '嘉怡', '俊杰'];
export const EN_AUTHORS = ['Smith, J.', 'Johnson, L.', 'Williams, R.', 'Brown, K.', 'Garcia, M.', 'Miller, A.', 'Davis, S.', 'Wilson, T.', 'Anderson, P.', 'Taylor, E.', 'Thomas, H.', 'Moore, C.'];
export const PUBLISHERS_ZH = ['人民卫生出版社', '科学出版社', '高等教育出版社', '北京大学医学出版社', '清华大学出版社', '商务印书馆', '中华书局', '人民出版社', '机械工业出版社', '化学工业出版社'];
export const PUBLISHERS_EN = ['Elsevier', 'Springer', 'Oxford University Press', 'Cambridge University Press', 'Wiley', "McGraw-Hill", 'Thieme', 'Wolters Kluwer'];

export const DEPARTMENTS: Record<string, string[]> = {
  undergraduate: ['临床医学', '基础医学', '药学', '护理学', '预防医学', '口腔医学', '生物医学工程', '医学英语'],
  postgraduate: ['内科学', '外科学', '病理学', '药理学', '流行病学', '神经病学', '生物化学与分子生物学'],
  faculty: ['基础医学院', '临床医学院', '药学院', '公共卫生学院', '外国语学院', '马克思主义学院'],
  staff: ['图书馆', '教务处', '附属医院', '后勤处', '信息中心'],
  public: ['社会读者'],
};

/** Per CLC class: a subject heading and title words in Chinese and English. */
export const CLASS_WORDS: Record<string, { subject: string; zh: string[]; en: string[] }> = {
  A: { subject: '马克思主义理论', zh: ['马克思主义', '经典著作', '理论'], en: ['Marxist Theory', 'Classic Works'] },
  B: { subject: '哲学与心理学', zh: ['哲学', '心理学', '伦理学', '医学心理'], en: ['Philosophy', 'Psychology', 'Ethics'] },
  C: { subject: '社会科学', zh: ['社会学', '统计学', '人口学'], en: ['Sociology', 'Social Research', 'Statistics'] },
  D: { subject: '政治与法律', zh: ['卫生法学', '医事法律', '政治学'], en: ['Health Law', 'Medical Law', 'Politics'] },
  E: { subject: '军事', zh: ['军事医学', '国防'], en: ['Military Medicine', 'Defence'] },
  F: { subject: '经济', zh: ['卫生经济学', '医院管理', '经济学'], en: ['Health Economics', 'Hospital Management'] },
  G: { subject: '文化教育', zh: ['医学教育', '体育', '信息检索'], en: ['Medical Education', 'Information Retrieval'] },
  H: { subject: '语言文字', zh: ['医学英语', '大学英语', '拉丁语', '汉语'], en: ['Medical English', 'Academic Writing', 'Latin for Medicine'] },
  I: { subject: '文学', zh: ['小说', '诗选', '散文集'], en: ['Novels', 'Poetry', 'Essays'] },
  J: { subject: '艺术', zh: ['艺术', '摄影', '医学绘图'], en: ['Art', 'Medical Illustration'] },
  K: { subject: '历史地理', zh: ['医学史', '中国历史', '世界史'], en: ['History of Medicine', 'World History'] },
  N: { subject: '自然科学总论', zh: ['科学方法', '系统科学'], en: ['Scientific Method', 'Systems Science'] },
  O: { subject: '数理化', zh: ['有机化学', '物理学', '医用高等数学', '分析化学'], en: ['Organic Chemistry', 'Physics', 'Calculus'] },
  P: { subject: '天文地球', zh: ['地球科学', '气象学'], en: ['Earth Science', 'Meteorology'] },
  Q: { subject: '生物科学', zh: ['细胞生物学', '遗传学', '生物化学', '微生物学', '免疫学'], en: ['Cell Biology', 'Genetics', 'Biochemistry', 'Microbiology'] },
  R: { subject: '医药卫生', zh: ['内科学', '外科学', '病理学', '药理学', '解剖学', '诊断学', '儿科学', '妇产科学', '组织学与胚胎学', '生理学'], en: ['Internal Medicine', 'Surgery', 'Pathology', 'Pharmacology', 'Anatomy', 'Histology', 'Physiology'] },
  S: { subject: '农业科学', zh: ['中药材栽培', '农学'], en: ['Agronomy', 'Medicinal Plants'] },
  T: { subject: '工业技术', zh: ['医学影像技术', '计算机应用', '生物医学工程'], en: ['Medical Imaging', 'Computing', 'Biomedical Engineering'] },
  U: { subject: '交通运输', zh: ['交通医学', '急救转运'], en: ['Transport Medicine'] },
  V: { subject: '航空航天', zh: ['航空医学', '航天生理'], en: ['Aviation Medicine'] },
  X: { subject: '环境与安全', zh: ['环境卫生', '职业卫生', '安全科学'], en: ['Environmental Health', 'Occupational Health'] },
  Z: { subject: '综合性图书', zh: ['百科全书', '年鉴', '词典'], en: ['Encyclopedia', 'Yearbook', 'Dictionary'] },
};
export const TITLE_FORMS_ZH = ['{w}', '{w}（第{n}版）', '{w}学习指导', '实用{w}', '{w}精要', '{w}案例分析', '{w}导论'];
export const TITLE_FORMS_EN = ['{w}', 'Principles of {w}', '{w}: An Introduction', 'Essentials of {w}', '{w} ({n}th edition)', 'Clinical {w}'];

/** Closed dates (Chinese public holidays) around the demo's year, written as data. */
export const HOLIDAYS: [string, string][] = [
  ['2025-10-01', '国庆节'], ['2025-10-02', '国庆节'], ['2025-10-03', '国庆节'], ['2025-10-06', '中秋节'],
  ['2026-01-01', '元旦'], ['2026-02-16', '春节'], ['2026-02-17', '春节'], ['2026-02-18', '春节'], ['2026-02-19', '春节'],
  ['2026-02-20', '春节'], ['2026-04-05', '清明节'], ['2026-05-01', '劳动节'], ['2026-05-02', '劳动节'], ['2026-06-19', '端午节'],
  ['2026-09-25', '中秋节'], ['2026-10-01', '国庆节'], ['2026-10-02', '国庆节'], ['2026-10-03', '国庆节'],
  ['2027-01-01', '元旦'], ['2027-02-05', '春节'], ['2027-02-06', '春节'], ['2027-02-07', '春节'], ['2027-02-08', '春节'],
  ['2027-04-05', '清明节'], ['2027-05-01', '劳动节'], ['2027-06-09', '端午节'], ['2027-09-15', '中秋节'], ['2027-10-01', '国庆节'],
];
