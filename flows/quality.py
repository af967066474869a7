"""Quality filters, per source: texts too short, languages not wanted, pages that are not articles.

Applied to each extracted document before it is committed; a document that fails becomes a reject with
its reason (too_short, language, not_article), so nothing is dropped silently.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

# Listing pages by their URL path: /tag/x, /category/x, /author/x, /topics/, /search, /page/2, /archive
_LISTING_PATH = re.compile(
    r"/(tags?|categor(y|ies)|topics?|authors?|search|archives?|page/\d+|sections?)(/|$)", re.IGNORECASE
)
_LISTING_QUERY = re.compile(r"(^|&)(s|q|query|search|page|tag|cat)=", re.IGNORECASE)
# Page types (og:type, schema.org @type) that are never a single article.
_LISTING_TYPES = {"profile", "collectionpage", "searchresultspage", "profilepage", "itemlist"}


class QualityRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_words: int = 50
    languages: tuple[str, ...] = ()
    articles_only: bool = True


def rules_of(source: object) -> QualityRules:
    return QualityRules(
        min_words=getattr(source, "min_words", 50),
        languages=tuple(getattr(source, "languages", ()) or ()),
        articles_only=getattr(source, "articles_only", True),
    )


def not_an_article(url: str, page_type: str | None) -> str | None:
    """Why the page looks like a listing (tag, category, author, search, index page), or None."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and parts.scheme in ("http", "https"):
        return "a site's front page"
    match = _LISTING_PATH.search(parts.path)
    if match:
        return f"a listing page ({match.group(0).strip('/')} in the URL)"
    if _LISTING_QUERY.search(parts.query):
        return "a listing page (search or paging parameters in the URL)"
    if page_type and page_type.lower().replace(" ", "") in _LISTING_TYPES:
        return f"a listing page (page type {page_type})"
    return None


def check(document: dict, rules: QualityRules) -> tuple[str, str] | None:
    """(reason, detail) when the document fails a rule, else None."""
    if rules.articles_only:
        why = not_an_article(document["canonical_url"] or document["url"], document.get("page_type"))
        if why is None and document["canonical_url"] != document["url"]:
            why = not_an_article(document["url"], None)
        if why is not None:
            return "not_article", why
    if document["word_count"] < rules.min_words:
        return "too_short", f"{document['word_count']} words < min_words {rules.min_words}"
    if rules.languages and document.get("language") not in rules.languages:
        return "language", f"language {document.get('language')!r} not in {list(rules.languages)}"
    return None
