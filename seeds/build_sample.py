#!/usr/bin/env python3
"""Builds the offline sample in seeds/: three small news sites (sample/<host>/...) and a WARC capture
(archive/sample.warc.gz). Run it again after editing the articles below: `python3 seeds/build_sample.py`.

What the sample exercises:
- the seed commentary (Asia Sentinel style) with menus, byline, author bio, share links, related stories
  and a reader comment that extraction must drop;
- an AMP edition of that page declaring it as canonical: the same document read twice (skipped);
- a syndicated exact copy on another outlet's template: the same text under another URL (a copy);
- an edited, shortened republication on a third outlet: a different text until near-dup detection;
- nine other commentaries, a tag index page, and an empty page (rejected: no text);
- in the WARC: a new article, a capture of an article already in the files, an image (rejected: not_html)
  and a 404 (rejected: http_404).
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Article:
    slug: str
    title: str
    author: str
    date: str
    section: str
    paragraphs: list[str]
    bio: str = ""
    tags: list[str] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)


SEED = Article(
    slug="russia-recognition-offers-taliban-little-relief",
    title="Russia's Recognition Offers the Taliban Symbolism, Not Relief",
    author="Salman Rafi Sheikh",
    date="2025-07-14",
    section="Politics",
    tags=["Afghanistan", "Taliban", "Russia", "Syria"],
    paragraphs=[
        "As millions of Afghans struggle with chronic food insecurity and millions more refugees get pushed out of Pakistan and Iran into overcrowded, under-resourced camps around Kabul, the Taliban government has scored a symbolic diplomatic win: formal diplomatic recognition on July 3 from Russia. But for ordinary Afghans, the move offers little relief, as routine life in the country remains mostly paralyzed.",
        "Reports indicate that government services remain infested with corruption and red tape, with basic administrative processes mired in inefficiency. Women and ethnic minorities remain systematically excluded from public life, with little to no recourse. But despite these deep-rooted issues, Afghanistan’s domestic turmoil is largely irrelevant to the strategic interests shaping regional diplomacy. Russia’s recognition, for instance, is driven less by endorsement of Taliban rule and ignorance of its human rights abuses than by security concerns.",
        "Moscow is primarily focused on preventing the resurgence of transnational Islamist militant groups operating out of Afghanistan. Russia fears that these groups could destabilize Central Asia or launch attacks within Russian territory. In that context, establishing formal ties with the Taliban is a tactical move aimed at managing regional security, not supporting governance reform or human rights.",
        "For the Taliban, this recognition is politically useful but substantively limited. It allows Kabul to claim progress on the international stage and to suggest a growing acceptance of its rule. But beyond optics, it is unlikely to unlock broader diplomatic legitimacy, particularly from Western powers. Despite informal channels with countries like China and now formal recognition from Russia, the Taliban remains diplomatically isolated.",
        "This ongoing isolation contrasts sharply with the recent normalization of relations between Gulf monarchies and Syria, where the Islamist leader Ahmad al-Sharra, once aligned with al-Qaeda in Iraq, has been welcomed back into regional diplomacy. Most notably, the Trump administration recently lifted sanctions and opened channels of engagement with the Syrian regime. There is little denying that Trump’s decision is mainly motivated by a desire to blunt China and Russia’s growing influence in the Middle East, but there is a lot more to the Syrian question than meets the eye, especially for Afghanistan. The White House statement, in fact, dropped a hint: “The world should take notice—if you want to take meaningful steps towards peace and stability, then the United States is willing to move rapidly to support you”.",
        "However, as far as the Taliban regime is concerned, it has remained largely resistant to transforming into a political structure that accommodates public participation or pluralism. While Taliban officials have occasionally met with international envoys, there has been no significant shift toward open governance. Notably, the group’s supreme leader, Hibatullah Akhundzada, remains almost entirely absent from public view. In fact, he has not engaged publicly with either Afghan citizens or international actors in any meaningful way since 2021.",
        "Simultaneously, the Taliban-led government has faced ongoing accusations from Pakistan of harboring and enabling the Tehrik-i-Taliban Pakistan (TTP), a militant group responsible for numerous cross-border attacks. Despite repeated denials from Kabul, the Pakistan military continues to assert that TTP operatives are launching assaults from Afghan territory. In January 2024, a suicide bombing in Pakistan’s Khyber Pakhtunkhwa province was linked by Pakistani officials to TTP cells operating with impunity in Afghanistan, a charge the Taliban has neither fully denied nor taken visible steps to investigate.",
        "The Taliban's domestic policies have also drawn sharp international criticism. Women and girls have been systematically excluded from secondary and higher education since the regime’s takeover. In March 2022, just hours after schools were set to reopen for girls above grade six, the Taliban reversed its decision, prompting condemnation from countries and international bodies including the United Nations and the European Union. As of mid-2025, these restrictions remain in place. UN reports that 80 percent of young Afghan women remain excluded from education, job, and professional training.",
        "The interviews I conducted with dozens of Afghan refugees now residing in Pakistan since the Taliban's return to power reveal a consistent narrative: fear of persecution, particularly among women and ethnic minorities. Many of the women I interviewed expressed deep concern over being forcibly repatriated to Afghanistan, citing threats of violence and the lack of basic freedoms. Several individuals, including ethnic Tajiks and Uzbeks, reported losing family members in Taliban-led operations. Their preference, almost unanimously, is resettlement in Western countries, a prospect that appears increasingly bleak.",
        "The US remains cautious in its approach. Although the Biden administration lifted the travel ban on several Muslim-majority countries in early 2021, an order initially enacted under President Donald Trump, the refugee intake from Afghanistan remains limited. Data from the US State Department shows a steep decline in Afghan refugee admissions in 2024, with priority now often given to those who had worked directly with American forces or organizations. Whether taking them in is possible or not due to the Trump administration’s travel ban on Afghanistan is not clear.",
        "Comparisons with Syria offer a stark contrast. Ahmad al-Sharra has actively engaged with both domestic constituents and foreign diplomats. Unlike Akhundzada, al-Sharra appears publicly, often in Western dress, and has reportedly met delegations that include local women representatives. In contrast to the Taliban's blanket ban on women's education, women in Syria are allowed to attend university and participate in public life, albeit within certain restrictions. For instance, the regime recently allowed women to access public beaches, although they are required to wear “burkinis,” a particular type of swimwear.",
        "In early 2025, the regime, after facing public protest on social media, allowed bars to operate in Damascus. While Syria continues to face accusations of human rights abuses and persecution of minorities, including the Druze and Alawite communities, the regime has also been far more responsive to international pressure for protecting minorities and executing ceasefire than the Taliban.",
        "Among the Afghan refugees interviewed in Pakistan, fears of ethnic persecution are widespread. Ethnic Pashtuns, while not immune to Taliban oppression, are often perceived to be at less risk than minority groups. Tajiks and Uzbeks, in particular, spoke of systemic targeting and fear returning to what they describe as a “Pashtun-dominated” governance model under the Taliban.",
        "There is yet no indication of the Taliban regime undergoing any meaningful transformation. In the end, Russia’s recognition of the Taliban regime is far from a turning point for Afghanistan. While the Taliban leverages symbolic diplomatic wins to claim legitimacy, its failure to institute even the most basic reforms—whether in governance, human rights, or regional cooperation—cements its isolation and deepens the suffering of its people. Unlike Syria’s regime, which has at least gestured toward international norms to regain regional acceptance, the Taliban has shown little willingness to evolve beyond a rigid, exclusionary ideology. Until Afghanistan's rulers engage meaningfully with both their citizens and the global community, recognition from foreign powers—however strategic—will remain hollow.",
    ],
    bio="Dr Salman Rafi Sheikh is an Assistant Professor of Politics at the Lahore University of Management Sciences (LUMS) in Pakistan. He is a long-time contributor on diplomatic affairs to Asia Sentinel",
    comments=[
        (
            "Hamid K.",
            "20 years and 3 trillion dollars later, uncle sam failed to make Afghanistan safe for democracy.",
        )
    ],
)


def edited(article: Article) -> Article:
    """A republication: new headline, a paragraph cut, a sentence reworded, an editor's note added."""
    paragraphs = [p for i, p in enumerate(article.paragraphs) if i != 11]
    paragraphs[0] = paragraphs[0].replace(
        "scored a symbolic diplomatic win", "won a symbolic diplomatic victory"
    )
    paragraphs.append("This commentary was first published by Asia Sentinel and has been edited for length.")
    return Article(
        slug="taliban-win-russian-recognition-but-afghans-see-little-change",
        title="Taliban Win Russian Recognition, but Afghans See Little Change",
        author=article.author,
        date="2025-07-16",
        section="Opinion",
        tags=["Afghanistan", "Russia"],
        paragraphs=paragraphs,
        bio=article.bio,
        comments=[("reader_2291", "Recognition is about pipelines and border security, nothing else.")],
    )


OTHERS = [
    Article(
        slug="pakistan-imf-lifeline-strings-attached",
        title="Pakistan's IMF Lifeline Comes With Strings Attached",
        author="Ayesha Qureshi",
        date="2025-06-30",
        section="Economy",
        tags=["Pakistan", "IMF", "Economy"],
        bio="Ayesha Qureshi is an economist based in Islamabad who writes on fiscal policy and South Asian trade.",
        comments=[("Faisal", "Every budget is written in Washington these days.")],
        paragraphs=[
            "Pakistan's finance ministry greeted the International Monetary Fund's latest disbursement with visible relief, but the conditions attached to the money will shape the country's politics far more than the headline figure suggests. The fund has asked Islamabad to widen its tax net, raise electricity tariffs and stop the habit of mid-year subsidy packages that have derailed previous programmes.",
            "None of these demands is new. What is new is the shrinking room for evasion. Gulf lenders and China, which rolled over deposits in past crises, have signalled that further help depends on the IMF programme staying on track. That turns the fund's review calendar into the real budget calendar of the state.",
            "The burden falls unevenly. Salaried urban workers already pay most of the income tax collected, while large landholders and retail traders remain lightly taxed. Raising power tariffs again will hit households that have seen real incomes fall for three consecutive years, and the opposition has promised to make energy prices the centre of its campaign.",
            "Officials argue that there is no alternative, and in the short run they are right. Reserves cover barely two months of imports. Yet a stabilisation that depends entirely on squeezing the same narrow base is unlikely to survive the next election cycle. The harder reforms, taxing agriculture and restructuring loss-making state enterprises, remain politically untouchable.",
            "Unless the government uses this breathing space to broaden the economy's foundations, Pakistan will be back at the fund's door within three years, as it has been for most of the past three decades.",
        ],
    ),
    Article(
        slug="myanmar-junta-courts-beijing-as-rebels-advance",
        title="Myanmar's Junta Courts Beijing as Rebels Tighten Grip on Border Towns",
        author="Thant Zin Oo",
        date="2025-07-02",
        section="Politics",
        tags=["Myanmar", "China", "Conflict"],
        bio="Thant Zin Oo is a pseudonym for a journalist reporting from Myanmar's border regions.",
        comments=[("Maung", "Beijing will back whoever keeps the pipelines running.")],
        paragraphs=[
            "Myanmar's military government sent its most senior delegation in two years to Beijing last week, seeking reassurance that China will not abandon it as ethnic armed groups consolidate control over trade crossings along the northern frontier. The visit came days after resistance forces seized another border town, cutting one of the junta's last reliable sources of customs revenue.",
            "China's position is ambivalent by design. It wants stability along a border that carries oil and gas pipelines to Yunnan and a growing share of its rare earth imports. It has brokered ceasefires when fighting threatened those interests, and it has also pressed some armed groups to hand captured towns back to the military.",
            "For the generals, Chinese mediation is a lifeline but also a constraint. Beijing has made clear that it expects elections, however stage-managed, and a negotiated arrangement with the larger ethnic organisations. Neither is easy for a regime whose legitimacy rests on the claim that only the army can hold the country together.",
            "The resistance, meanwhile, is learning to govern. In several townships, local administrations now collect taxes, run clinics and reopen schools. Their success depends on cross-border trade, which gives China leverage over them as well. Beijing is not choosing a side so much as making itself indispensable to every side.",
            "That may be the most durable outcome of the war: a fragmented Myanmar in which every armed actor looks north for permission.",
        ],
    ),
    Article(
        slug="indonesia-new-capital-investors",
        title="Indonesia's New Capital Struggles to Attract Investors",
        author="Dewi Lestari",
        date="2025-06-18",
        section="Economy",
        tags=["Indonesia", "Nusantara", "Infrastructure"],
        bio="Dewi Lestari covers urban policy and infrastructure from Jakarta.",
        comments=[("Budi", "A city in the forest for the next president to forget.")],
        paragraphs=[
            "Construction cranes still dominate the skyline of Nusantara, Indonesia's planned capital on the island of Borneo, but the private money that was supposed to finance most of the project has been slow to arrive. Officials now concede that the state budget will have to carry a larger share of the cost than originally planned.",
            "The original pitch promised that four fifths of the investment would come from private developers and foreign partners. Several high-profile investors have since stepped back, citing uncertainty over land rights, the pace of civil service relocation and whether the new administration shares its predecessor's enthusiasm.",
            "President Prabowo Subianto has kept the project alive but has been careful not to tie his political fortunes to it. Budget allocations have been trimmed in favour of his flagship free school meals programme, and the relocation of ministries has been spread over a longer timeline.",
            "Environmental groups warn that the city's expansion threatens one of the region's remaining forest corridors, while indigenous communities say they were consulted too late. Supporters counter that Jakarta, sinking and congested, cannot remain the seat of government indefinitely.",
            "The likeliest future is a smaller, slower capital: a government district that works, surrounded by plans that take a decade longer than promised.",
        ],
    ),
    Article(
        slug="central-asia-hedging-moscow-beijing",
        title="Why Central Asia Is Hedging Between Moscow and Beijing",
        author="Timur Akhmetov",
        date="2025-07-08",
        section="Politics",
        tags=["Central Asia", "Russia", "China", "Kazakhstan"],
        bio="Timur Akhmetov is a political analyst in Almaty focusing on Eurasian security.",
        comments=[("Aliya", "Multi-vector foreign policy is just survival with a nicer name.")],
        paragraphs=[
            "For three decades the five Central Asian republics have practised what Kazakh diplomats like to call a multi-vector foreign policy. The war in Ukraine has made that balancing act both more difficult and more valuable.",
            "Russia remains the region's security guarantor of last resort and the destination for millions of migrant workers whose remittances keep rural economies afloat. China is the largest lender and builder, and its trade with the region has doubled in five years. Neither relationship can be given up, and neither power can be allowed to dominate.",
            "The new element is the return of the West as a serious economic partner. European and American companies see the region as a source of critical minerals and as a transit corridor that bypasses Russia. Regional leaders have welcomed the attention without offering anything that Moscow could read as alignment.",
            "Afghanistan sits uneasily in this picture. Uzbekistan and Turkmenistan trade with the Taliban and want railways and pipelines through Afghan territory, while Tajikistan remains hostile. Russia's formal recognition of the Taliban has given the pragmatists cover.",
            "Hedging is not indecision. For small states between large neighbours it is the strategy that has kept them independent, and they are getting better at it.",
        ],
    ),
    Article(
        slug="bangladesh-braces-for-election",
        title="Bangladesh Braces for an Election Under Economic Strain",
        author="Rezaul Karim",
        date="2025-07-10",
        section="Politics",
        tags=["Bangladesh", "Elections"],
        bio="Rezaul Karim is a Dhaka-based writer on governance and labour.",
        comments=[("Nusrat", "The garment workers will decide this one, not the parties.")],
        paragraphs=[
            "A year after mass protests ended Sheikh Hasina's long rule, Bangladesh's interim government is preparing for elections that it hopes will restore constitutional order. The economic backdrop could hardly be more difficult.",
            "Inflation has stayed above nine percent for most of the past two years, foreign reserves have recovered only slowly, and the garment industry, which earns most of the country's export income, faces higher tariffs in its largest market. Factory owners warn that orders are moving to Vietnam and Cambodia.",
            "The interim administration has won praise for stabilising the banking sector and pursuing corruption cases against former officials. But reform commissions on the constitution, the police and the electoral system have produced more recommendations than agreements, and the major parties disagree on which reforms must come before the vote.",
            "The risk is that an election held too early returns the old winner-takes-all politics, while one delayed too long erodes the interim government's legitimacy. Neither outcome would reassure investors or the millions of young voters who drove last year's uprising.",
            "What Bangladesh needs is not only a date for the vote but a credible commitment from every party to accept its result.",
        ],
    ),
    Article(
        slug="second-thomas-shoal-standoff",
        title="The Standoff at Second Thomas Shoal Is Not Going Away",
        author="Maria Santos",
        date="2025-06-25",
        section="Security",
        tags=["South China Sea", "Philippines", "China"],
        bio="Maria Santos is a maritime security researcher in Manila.",
        comments=[("Jun", "Water cannons today, something worse tomorrow.")],
        paragraphs=[
            "The rusting warship that the Philippines grounded on Second Thomas Shoal in 1999 has become the most dangerous flashpoint in the South China Sea. Every resupply mission to the handful of marines stationed aboard now risks a confrontation with Chinese coast guard vessels.",
            "A provisional arrangement reached last year has reduced the number of violent incidents, but neither side has changed its underlying position. Manila insists the shoal lies within its exclusive economic zone, as an international tribunal ruled in 2016. Beijing rejects the ruling and treats the resupply missions as provocations.",
            "The United States has repeatedly stated that its mutual defence treaty with the Philippines covers attacks on Philippine public vessels anywhere in the South China Sea. That commitment deters escalation but also raises the stakes of any accident at sea.",
            "Southeast Asian neighbours watch nervously. Vietnam and Malaysia have their own disputes with China but prefer quiet diplomacy, and the long-promised code of conduct remains unfinished after more than two decades of talks.",
            "The shoal is a test of whether rules can restrain power at sea. So far the answer is a fragile maybe.",
        ],
    ),
    Article(
        slug="india-china-reopen-border-trade",
        title="India and China Quietly Reopen Border Trade Routes",
        author="Priya Raghavan",
        date="2025-07-05",
        section="Economy",
        tags=["India", "China", "Trade"],
        bio="Priya Raghavan writes on Indian foreign policy and Himalayan affairs.",
        comments=[("Arvind", "Trade first, trust later. Maybe never.")],
        paragraphs=[
            "Five years after deadly clashes in the Galwan Valley froze relations, India and China have agreed to reopen border trade through three mountain passes and to resume direct flights. The steps are modest, but they mark the clearest thaw since 2020.",
            "Both governments have reasons to lower the temperature. New Delhi wants room to manoeuvre as tariff disputes with Washington complicate its export strategy, and its manufacturers still depend on Chinese components. Beijing, facing slowing growth and Western restrictions, sees value in a calmer southern frontier.",
            "Disengagement agreements have pulled troops back from several friction points, although tens of thousands of soldiers remain deployed on both sides of the Line of Actual Control. Indian officials stress that normalisation depends on restoring the situation on the ground, a phrase that allows them to move at their own pace.",
            "Traders in Sikkim and Himachal Pradesh have welcomed the news. For mountain communities, seasonal trade across the passes is not a diplomatic signal but a livelihood that vanished overnight in 2020.",
            "Whether the thaw lasts will depend less on summit communiqués than on patrols in the high Himalaya.",
        ],
    ),
    Article(
        slug="sri-lanka-debt-restructuring-lessons",
        title="Sri Lanka's Debt Restructuring Offers Lessons for the Region",
        author="Nimal Perera",
        date="2025-06-12",
        section="Economy",
        tags=["Sri Lanka", "Debt"],
        bio="Nimal Perera is a former central bank economist in Colombo.",
        comments=[("Kumari", "The lesson is: don't borrow for airports nobody uses.")],
        paragraphs=[
            "Three years after defaulting on its foreign debt, Sri Lanka has completed most of its restructuring and returned to modest growth. The process was slow and painful, but it offers lessons for other South Asian economies carrying heavy external obligations.",
            "The first lesson is that delay is expensive. Colombo resisted going to the IMF until reserves were exhausted, turning a manageable liquidity problem into a humanitarian crisis with fuel queues, power cuts and shortages of medicine.",
            "The second is that creditor coordination has improved but remains fragile. China, India and the Paris Club eventually agreed on comparable treatment, yet negotiations with private bondholders took more than a year and produced a complicated instrument tied to future growth.",
            "The third lesson is political. The austerity that accompanied the programme helped bring a new government to power, one that campaigned against the old elite but has so far kept to the IMF framework. Voters, it seems, punished the architects of the crisis rather than the medicine.",
            "Sri Lanka is not out of danger. But it has shown that a small country can default, restructure and recover without losing its democracy.",
        ],
    ),
]

WARC_ARTICLE = Article(
    slug="mekong-water-disputes",
    title="Dams on the Mekong Test Regional Diplomacy",
    author="Somchai Wong",
    date="2025-07-11",
    section="Environment",
    tags=["Mekong", "Water", "China"],
    bio="Somchai Wong is an environmental journalist based in Bangkok.",
    comments=[("Lan", "The fish disappeared before the diplomats noticed.")],
    paragraphs=[
        "Fishermen in Cambodia's Tonle Sap say the annual flood pulse that sustains the lake's fisheries arrived late again this year. Scientists increasingly link the changes to the cascade of dams upstream on the Mekong, most of them in China and Laos.",
        "The Mekong River Commission, which groups the four lower Mekong countries, has no authority over China, which is only a dialogue partner. Beijing now shares year-round water data from its dams, a concession that researchers welcome but say comes too late to shape operating decisions.",
        "Laos, meanwhile, continues to build hydropower projects to export electricity to Thailand, betting its economic future on being the battery of Southeast Asia. Debt from those projects has left it with little room to pause.",
        "Downstream, Vietnam's Mekong Delta faces a double threat of reduced sediment and rising seas. Farmers are switching from rice to shrimp as salt water pushes further inland each dry season.",
        "Water diplomacy on the Mekong has produced data sharing and declarations. It has not yet produced a way to weigh the electricity gains of some against the food security of others.",
    ],
)


# ---- page templates: three outlets with their own furniture around the same article markup


def _paragraphs(article: Article) -> str:
    return "\n".join(f"      <p>{html.escape(p, quote=False)}</p>" for p in article.paragraphs)


def _comments(article: Article) -> str:
    items = "\n".join(
        f'      <li class="comment"><span class="comment-author">{html.escape(a)}</span>'
        f'<p class="comment-body">{html.escape(t)}</p></li>'
        for a, t in article.comments
    )
    return (
        f'  <section id="comments" class="comments-area">\n    <h3>{len(article.comments)} Comment</h3>\n'
        f'    <ol class="comment-list">\n{items}\n    </ol>\n'
        '    <form class="comment-form"><textarea name="comment"></textarea><button>Post Comment</button></form>\n'
        "  </section>"
    )


def _head(article: Article, canonical: str, site: str, extra: str = "") -> str:
    keywords = ", ".join(article.tags)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(article.title)} | {site}</title>
  <meta name="description" content="{html.escape(article.paragraphs[0][:150])}">
  <meta name="author" content="{html.escape(article.author)}">
  <meta name="keywords" content="{html.escape(keywords)}">
  <meta property="og:site_name" content="{site}">
  <meta property="og:title" content="{html.escape(article.title)}">
  <meta property="og:type" content="article">
  <meta property="article:published_time" content="{article.date}T08:00:00+00:00">
  <link rel="canonical" href="{canonical}">{extra}
</head>"""


def sentinel_page(article: Article, related: list[Article], url: str, canonical: str | None = None) -> str:
    """Asia Sentinel style: top menu, breadcrumb, share bar, author bio, related stories, comments."""
    menu = "".join(
        f'<li><a href="/category/{s.lower()}">{s}</a></li>'
        for s in ("Home", "Politics", "Economy", "Security", "Culture", "Opinion", "Podcast", "Subscribe")
    )
    rel = "\n".join(
        f'      <li><a href="/{r.date[:4]}/{r.date[5:7]}/{r.slug}.html">{html.escape(r.title)}</a></li>'
        for r in related
    )
    return f"""{_head(article, canonical or url, "Asia Sentinel")}
<body class="single-post">
  <header class="site-header">
    <div class="top-bar"><a href="/login">Log in</a> | <a href="/subscribe">Subscribe</a> | <a href="/donate">Support independent journalism</a></div>
    <a class="logo" href="/">Asia Sentinel</a>
    <nav class="main-menu"><ul>{menu}</ul></nav>
  </header>
  <div class="breadcrumb"><a href="/">Home</a> &raquo; <a href="/category/{article.section.lower()}">{article.section}</a></div>
  <main>
    <article class="post">
      <h1 class="entry-title">{html.escape(article.title)}</h1>
      <div class="entry-meta">By: <a rel="author" href="/author/{article.author.lower().replace(" ", "-")}">{html.escape(article.author)}</a>
        <time datetime="{article.date}">{article.date}</time></div>
      <div class="share-bar"><a href="https://twitter.com/share">Share on X</a> <a href="https://facebook.com/sharer">Facebook</a> <a href="mailto:?subject=story">Email</a> <a href="#print">Print</a></div>
      <div class="entry-content">
{_paragraphs(article)}
      </div>
      <div class="author-bio"><p>{html.escape(article.bio)}</p></div>
      <div class="tags">Tags: {", ".join(f'<a href="/tag/{t.lower().replace(" ", "-")}">{t}</a>' for t in article.tags)}</div>
    </article>
    <aside class="related-posts">
      <h3>Related Stories</h3>
      <ul>
{rel}
      </ul>
    </aside>
{_comments(article)}
  </main>
  <aside class="sidebar">
    <div class="newsletter"><h4>Get our newsletter</h4><form><input type="email" placeholder="Your email"><button>Sign up</button></form></div>
    <div class="ad-slot">Advertisement</div>
  </aside>
  <footer class="site-footer"><ul><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li><li><a href="/privacy">Privacy policy</a></li></ul>
    <p>&copy; 2025 Asia Sentinel. All rights reserved.</p></footer>
</body>
</html>
"""


def sentinel_amp_page(article: Article, canonical: str) -> str:
    """The AMP edition: lean furniture, the same article, canonical pointing at the regular page."""
    viewport = '\n  <meta name="viewport" content="width=device-width">'
    return f"""{_head(article, canonical, "Asia Sentinel", viewport)}
<body class="amp">
  <header><a href="/">Asia Sentinel</a> <a href="/menu">Menu</a></header>
  <article>
    <h1>{html.escape(article.title)}</h1>
    <div class="byline">By: {html.escape(article.author)} · {article.date}</div>
    <div class="entry-content">
{_paragraphs(article)}
    </div>
    <div class="author-bio"><p>{html.escape(article.bio)}</p></div>
  </article>
  <footer><a href="{canonical}">View full site</a> · &copy; 2025 Asia Sentinel</footer>
</body>
</html>
"""


def wire_page(article: Article, url: str, canonical: str, site: str) -> str:
    """An aggregator's template: different menus, trending box, cookie banner, 'originally published'."""
    trending = "".join(
        f"<li><a href='/trending/{i}'>{t}</a></li>"
        for i, t in enumerate(
            (
                "Oil prices slide as OPEC meets",
                "Five things to watch this week",
                "Markets close mixed in Asia",
                "Opinion: the end of cheap money",
            )
        )
    )
    return f"""{_head(article, canonical, site)}
<body>
  <div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button> <button>Manage</button></div>
  <header id="masthead"><div class="brand">{site}</div>
    <ul class="menu"><li><a href="/world">World</a></li><li><a href="/asia">Asia</a></li><li><a href="/business">Business</a></li><li><a href="/analysis">Analysis</a></li><li><a href="/newsletters">Newsletters</a></li></ul>
    <form class="search"><input name="q" placeholder="Search"></form>
  </header>
  <div id="content" class="layout">
    <div class="story">
      <p class="kicker">{article.section}</p>
      <h1 class="headline">{html.escape(article.title)}</h1>
      <p class="byline">By {html.escape(article.author)} | <span class="date">{article.date}</span></p>
      <div class="story-body">
{_paragraphs(article)}
      </div>
      <div class="author-bio"><p>{html.escape(article.bio)}</p></div>
      <p class="syndication">Originally published by <a href="{canonical}">Asia Sentinel</a>. Republished with permission.</p>
    </div>
    <div class="trending"><h4>Trending now</h4><ul>{trending}</ul></div>
{_comments(article)}
  </div>
  <footer><p>{site} aggregates analysis from partner publications.</p><a href="/terms">Terms</a> <a href="/advertise">Advertise with us</a></footer>
</body>
</html>
"""


def tag_page(articles: list[Article]) -> str:
    items = "\n".join(
        f'    <li><a href="/{a.date[:4]}/{a.date[5:7]}/{a.slug}.html">{html.escape(a.title)}</a> '
        f"<span>{a.date}</span></li>"
        for a in articles
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tag: Afghanistan | Asia Sentinel</title></head>
<body><header><a href="/">Asia Sentinel</a></header>
  <h1>Tag: Afghanistan</h1>
  <ul class="archive">
{items}
  </ul>
  <div class="pagination"><a href="?page=2">Older posts</a></div>
</body></html>
"""


EMPTY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Loading…</title>
<script>window.location = '/app#/story/' + location.hash;</script></head>
<body><div id="app"></div><noscript>Please enable JavaScript.</noscript></body></html>
"""


def url_of(host: str, article: Article) -> str:
    return f"https://{host}/{article.date[:4]}/{article.date[5:7]}/{article.slug}.html"


SENTINEL = "www.asia-sentinel.example"
WIRE = "www.globalaffairs-wire.example"
MONITOR = "www.southasia-monitor.example"


def build_files() -> None:
    root = HERE / "sample"
    sentinel_articles = [SEED, *OTHERS[:5]]
    for i, article in enumerate(sentinel_articles):
        related = [a for a in sentinel_articles if a is not article][i % 3 : i % 3 + 3]
        _write(root, url_of(SENTINEL, article), sentinel_page(article, related, url_of(SENTINEL, article)))
    seed_url = url_of(SENTINEL, SEED)
    _write(root, seed_url.replace(".html", ".amp.html"), sentinel_amp_page(SEED, seed_url))
    wire_url = url_of(WIRE, SEED)
    _write(root, wire_url, wire_page(SEED, wire_url, seed_url, "Global Affairs Wire"))
    update = edited(SEED)
    monitor_url = url_of(MONITOR, update)
    _write(root, monitor_url, wire_page(update, monitor_url, monitor_url, "South Asia Monitor"))
    for article in OTHERS[5:]:
        url = url_of(MONITOR, article)
        _write(root, url, wire_page(article, url, url, "South Asia Monitor"))
    _write(root, f"https://{SENTINEL}/tag/afghanistan.html", tag_page(sentinel_articles))
    _write(root, f"https://{WIRE}/app/story-viewer.html", EMPTY_PAGE)


def _write(root: Path, url: str, page: str) -> None:
    path = root / url.removeprefix("https://")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def build_warc() -> None:
    """A small capture, as a crawler would have archived it (needs warcio)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    host = "www.mekong-observer.example"
    new_url = url_of(host, WARC_ARTICLE)
    captured = OTHERS[6]  # India-China border trade, also on the Asia Sentinel files: a cross-source copy
    records = [
        (new_url, "200 OK", "text/html; charset=utf-8", sentinel_page(WARC_ARTICLE, [], new_url).encode()),
        (
            url_of(SENTINEL, captured),
            "200 OK",
            "text/html; charset=utf-8",
            sentinel_page(captured, [], url_of(SENTINEL, captured)).encode(),
        ),
        (
            f"https://{host}/images/delta-map.png",
            "200 OK",
            "image/png",
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        ),
        (
            f"https://{host}/2025/07/deleted-story.html",
            "404 Not Found",
            "text/html",
            b"<html><body>Not found</body></html>",
        ),
    ]
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    for url, status, content_type, body in records:
        headers = StatusAndHeaders(
            status, [("Content-Type", content_type), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
        )
        record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": "2025-07-12T06:30:00Z"},
        )
        writer.write_record(record)
    (HERE / "archive").mkdir(exist_ok=True)
    (HERE / "archive" / "sample.warc.gz").write_bytes(buffer.getvalue())


if __name__ == "__main__":
    build_files()
    build_warc()
    print(f"sample written under {HERE / 'sample'} and {HERE / 'archive'}")
