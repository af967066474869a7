"""News pages in Chinese, Japanese, Korean, Thai, Arabic and Russian, on a real news-page structure
(menu, byline, date, share links, related stories, footer), with the number of words a reader counts.

In the texts below `|` marks a word boundary where the script writes none (Chinese, Japanese, Thai: the
segmentation is the test author's, made by hand, not by the code under test); the pages get the text with
the marks removed. A reader's count is the number of pieces between marks and spaces; punctuation is not a
word.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Foreign:
    language: str
    host: str
    path: str
    title: str
    author: str
    date: str
    menu: tuple[str, ...]
    related: tuple[str, ...]
    paragraphs: tuple[str, ...]  # with | between words of spaceless scripts

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}"

    @property
    def texts(self) -> list[str]:
        return [p.replace("|", "") for p in self.paragraphs]

    @property
    def reader_words(self) -> int:
        pieces = [w for p in self.paragraphs for w in re.split(r"[|\s]+", p)]
        return sum(1 for w in pieces if re.search(r"\w", w))


PAGES = [
    Foreign(
        "zh",
        "news.example.cn",
        "/world/2025-10/16/c_1130123.htm",
        "外交部就地区局势答记者问",
        "记者 王小明",
        "2025-10-16",
        ("首页", "国际", "财经", "评论", "视频"),
        ("专家解读东南亚经济走势", "多国领导人出席峰会"),
        (
            "新华社|北京|10月|16日|电|外交部|发言人|今天|在|例行|记者会|上|表示|，|中方|愿|同|各方|一道|，|"
            "推动|地区|局势|尽快|缓和|，|维护|和平|与|稳定|。",
            "发言人|说|，|当前|国际|形势|复杂|多变|，|各国|应当|加强|对话|与|合作|，|通过|协商|解决|分歧|，|"
            "避免|采取|可能|使|紧张|局势|升级|的|行动|。",
            "有|记者|问|及|双边|贸易|问题|时|，|发言人|表示|，|两国|经贸|关系|互利|共赢|，|中方|欢迎|更多|"
            "外国|企业|来华|投资|兴业|，|共同|分享|发展|机遇|。",
            "发言人|还|介绍|了|下周|将|举行|的|高级别|会议|的|有关|安排|，|并|强调|中方|将|继续|为|地区|"
            "繁荣|发展|作出|积极|贡献|。",
        ),
    ),
    Foreign(
        "ja",
        "www.example.co.jp",
        "/articles/20251016/k10014567.html",
        "政府、経済対策を閣議決定",
        "政治部 山田太郎",
        "2025-10-16",
        ("トップ", "政治", "経済", "国際", "スポーツ"),
        ("日銀、金融政策を据え置き", "円相場、一時150円台に"),
        (
            "政府|は|16日|の|閣議|で|、|物価|高|に|対応|する|ため|の|新た|な|経済|対策|を|決定|し|た|。|"
            "対策|の|規模|は|およそ|20|兆|円|と|なる|見通し|だ|。",
            "首相|は|記者会見|で|、|国民|の|暮らし|を|守る|ため|に|あらゆる|手段|を|講じる|と|述べ|、|"
            "早期|の|補正|予算|成立|に|意欲|を|示し|た|。",
            "対策|に|は|、|電気|や|ガス|料金|の|補助|の|継続|、|低所得|世帯|へ|の|給付|金|、|中小|企業|の|"
            "賃上げ|支援|など|が|盛り込ま|れ|た|。",
            "一方|、|野党|は|財源|の|裏付け|が|不十分|だ|と|批判|し|て|おり|、|国会|で|の|論戦|が|予想|"
            "さ|れる|。",
        ),
    ),
    Foreign(
        "ko",
        "www.example.co.kr",
        "/news/articleView.html?idxno=304512",
        "정부, 내년 경제정책 방향 발표",
        "김민수 기자",
        "2025-10-16",
        ("홈", "정치", "경제", "사회", "국제"),
        ("한국은행 기준금리 동결", "수출 3개월 연속 증가"),
        (
            "정부는 16일 정부서울청사에서 경제관계장관회의를 열고 내년 경제정책 방향을 발표했다. "
            "정부는 내년 경제성장률 전망치를 2.1%로 제시했다.",
            "기획재정부 장관은 이날 회의에서 대외 불확실성이 여전히 높은 상황이라며 민생 안정과 "
            "경제 활력 회복에 정책 역량을 집중하겠다고 밝혔다.",
            "정부는 소상공인 지원을 확대하고 청년 일자리 사업 예산을 늘리는 한편 수출 기업의 "
            "금융 부담을 덜기 위한 대책도 함께 내놓았다.",
            "전문가들은 정부의 방향이 적절하다고 평가하면서도 재정 건전성에 대한 우려는 계속 "
            "남아 있다고 지적했다.",
        ),
    ),
    Foreign(
        "th",
        "www.example.co.th",
        "/news/politics/2784512",
        "รัฐบาลประกาศมาตรการกระตุ้นเศรษฐกิจ",
        "ผู้สื่อข่าว สมชาย ใจดี",
        "2025-10-16",
        ("หน้าแรก", "การเมือง", "เศรษฐกิจ", "ต่างประเทศ", "กีฬา"),
        ("ธนาคารแห่งประเทศไทยคงดอกเบี้ย", "ราคาทองคำปรับตัวสูงขึ้น"),
        (
            "นายก|รัฐมนตรี|ประกาศ|มาตรการ|กระตุ้น|เศรษฐกิจ|ชุด|ใหม่|เมื่อ|วัน|พฤหัสบดี|ที่|ผ่าน|มา "
            "โดย|มี|เป้าหมาย|เพื่อ|ช่วยเหลือ|ประชาชน|ที่|ได้รับ|ผลกระทบ|จาก|ค่า|ครองชีพ|ที่|สูง|ขึ้น",
            "มาตรการ|ดังกล่าว|ประกอบ|ด้วย|การ|ลด|ค่า|ไฟฟ้า|และ|ค่า|น้ำมัน "
            "การ|สนับสนุน|เงินทุน|แก่|ผู้|ประกอบการ|ขนาด|เล็ก "
            "และ|การ|ส่งเสริม|การ|ท่องเที่ยว|ภายใน|ประเทศ",
            "รัฐมนตรี|ว่าการ|กระทรวง|การคลัง|กล่าว|ว่า|รัฐบาล|คาด|ว่า|เศรษฐกิจ|ไทย|จะ|ขยายตัว|ได้ "
            "ประมาณ|สาม|เปอร์เซ็นต์|ใน|ปี|หน้า|หาก|สถานการณ์|โลก|ไม่|เลวร้าย|ลง",
            "อย่างไรก็ตาม|นัก|เศรษฐศาสตร์|หลาย|คน|เตือน|ว่า|รัฐบาล|ควร|ระมัดระวัง|เรื่อง|หนี้|สาธารณะ "
            "ซึ่ง|อยู่|ใน|ระดับ|สูง|อยู่|แล้ว",
        ),
    ),
    Foreign(
        "ar",
        "www.example.ae",
        "/ar/news/world/2025/10/16/1734521",
        "وزراء الخارجية العرب يبحثون الأوضاع في المنطقة",
        "أحمد محمود",
        "2025-10-16",
        ("الرئيسية", "سياسة", "اقتصاد", "رياضة", "ثقافة"),
        ("ارتفاع أسعار النفط في الأسواق العالمية", "قمة اقتصادية في الرياض"),
        (
            "عقد وزراء الخارجية العرب اجتماعا طارئا في القاهرة يوم الخميس لبحث التطورات الأخيرة في "
            "المنطقة وسبل احتواء التصعيد.",
            "وأكد الوزراء في بيانهم الختامي على ضرورة وقف إطلاق النار بشكل فوري وإيصال المساعدات "
            "الإنسانية إلى المدنيين دون عوائق.",
            "وقال الأمين العام للجامعة العربية إن الحوار هو السبيل الوحيد لحل الأزمة، داعيا المجتمع "
            "الدولي إلى تحمل مسؤولياته.",
            "ومن المقرر أن يعقد الوزراء اجتماعا آخر الشهر المقبل لمتابعة تنفيذ القرارات التي تم "
            "الاتفاق عليها اليوم.",
        ),
    ),
    Foreign(
        "ru",
        "www.example.ru",
        "/politics/16/10/2025/68f0a1b29a7947",
        "Правительство утвердило план поддержки экономики",
        "Иван Петров",
        "2025-10-16",
        ("Главная", "Политика", "Экономика", "Общество", "Спорт"),
        ("Центробанк сохранил ключевую ставку", "Курс рубля укрепился"),
        (
            "Правительство России в четверг утвердило план мер по поддержке экономики на следующий год, "
            "сообщили в пресс-службе кабинета министров.",
            "План предусматривает снижение налоговой нагрузки на малый бизнес, расширение льготной ипотеки "
            "и дополнительные выплаты семьям с детьми.",
            "По словам министра финансов, реализация мер обойдется бюджету примерно в два триллиона рублей, "
            "а основным источником финансирования станут нефтегазовые доходы.",
            "Эксперты считают, что план поможет сохранить темпы роста, однако предупреждают о рисках "
            "ускорения инфляции в первой половине года.",
        ),
    ),
]

_DIRECTION = {"ar": "rtl"}


def foreign_page(page: Foreign) -> str:
    """The article on a news-page template in its own language."""
    menu = "".join(f'<li><a href="/{i}">{html.escape(m)}</a></li>' for i, m in enumerate(page.menu))
    related = "".join(f'<li><a href="/r/{i}">{html.escape(r)}</a></li>' for i, r in enumerate(page.related))
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in page.texts)
    direction = _DIRECTION.get(page.language, "ltr")
    return f"""<!DOCTYPE html>
<html lang="{page.language}" dir="{direction}"><head><meta charset="utf-8">
<title>{html.escape(page.title)}</title>
<meta property="og:type" content="article">
<meta name="author" content="{html.escape(page.author)}">
<meta property="article:published_time" content="{page.date}T08:30:00+08:00">
<link rel="canonical" href="{page.url}"></head>
<body>
<header><div class="logo">{html.escape(page.host)}</div><nav><ul>{menu}</ul></nav></header>
<main><article>
<h1>{html.escape(page.title)}</h1>
<div class="byline"><span class="author">{html.escape(page.author)}</span> <time>{page.date}</time></div>
<div class="share"><a href="https://twitter.com/share">X</a> <a href="https://facebook.com/share">f</a></div>
<div class="article-body">
{body}
</div>
</article>
<aside class="related"><h3>{html.escape(page.menu[0])}</h3><ul>{related}</ul></aside>
</main>
<footer><a href="/about">{html.escape(page.menu[-1])}</a> &copy; 2025 {html.escape(page.host)}</footer>
</body></html>
"""
