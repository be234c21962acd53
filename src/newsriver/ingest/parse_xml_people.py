"""The fast XML path's handlers for people and categories: authors, contributors, tags, keywords."""

from __future__ import annotations

import re

from lxml import etree

from newsriver.ingest.parse_xml_walk import KEYMAP, Attrs, Context, Decline, Walker, no_children, only_text, own_text

# What feedparser accepts inside <author>/<contributor>.
PERSON_CHILDREN = frozenset({"name", "email", "uri", "url", "homepage"})
# The e-mail pattern feedparser splits free-text authors with.
_AUTHOR_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)


class People(Walker):
    """feedparser's handling of authors (and their name, e-mail and URI parts) and categories."""

    def _author(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self.in_author = True
        context.setdefault("authors", []).append({})
        for child in el:
            if self._start(child)[0] not in PERSON_CHILDREN:
                raise Decline(f"{child.tag} in author")
            self._element(child, depth + 1, context)
        self._store("author", self._value("author", own_text(el)), depth, context)
        self.in_author = False
        self._sync_author_detail(context)

    def _contributor(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        # Contributors are not read; only their shape is checked so that skipping them is exact.
        for child in el:
            if self._leaf_child(child, depth + 1)[0] not in PERSON_CHILDREN:
                raise Decline(f"{child.tag} in contributor")

    def _person_part(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        value = only_text(el).strip()  # pushed without expecting text: no transformations
        key = name.removeprefix("itunes_")
        if self.in_publisher:
            self._save_author(context, key, value, "publisher")
        elif self.in_author:
            self._save_author(context, key, value)

    def _person_uri(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        value = self._value("href", only_text(el))
        if self.in_author:
            self._save_author(context, "href", value)

    def _save_author(self, context: Context, key: str, value: str, prefix: str = "author") -> None:
        context.setdefault(prefix + "_detail", {})[key] = value
        self._sync_author_detail(context)
        context.setdefault("authors", [{}])
        context["authors"][-1][key] = value

    @staticmethod
    def _sync_author_detail(context: Context) -> None:
        detail = context.get("authors", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context["author"] = f"{name} ({email})"
            elif name:
                context["author"] = name
            elif email:
                context["author"] = email
            return
        author, email = context.get("author"), None
        if not author:
            return
        match = _AUTHOR_EMAIL.search(author)
        if match:
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault("author_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    @staticmethod
    def _add_tag(context: Context, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = context.setdefault("tags", [])
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _category(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if name == "itunes_category":
            self._add_tag(context, attrs.get("text"), "http://www.itunes.com/", None)
            for child in el:  # nested iTunes categories are categories of their own
                if self._start(child)[0] != "itunes_category":
                    raise Decline(f"{child.tag} in itunes:category")
                self._element(child, depth + 1, context)
            text = own_text(el)
        else:
            if name == "media_category":
                attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
            self._add_tag(context, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
            text = only_text(el)
        value = self._value("category", text)
        if not value:
            return
        tags = context["tags"]
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(context, value, None, None)

    def _keywords(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if attrs:
            # feedparser keeps the attributes under the name and finds no text to split.
            no_children(el)
            context[KEYMAP.get(name, name)] = attrs
            return
        value = self._value(name, only_text(el))
        if name == "media_keywords":
            self._store(name, value, depth, context)
        scheme = "http://www.itunes.com/" if name == "itunes_keywords" else None
        for term in value.split(","):
            if term.strip():
                self._add_tag(context, term.strip(), scheme, None)
