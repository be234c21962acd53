<?xml version="1.0" encoding="UTF-8"?>
<!-- How a browser shows newsriver's Atom and RSS files: a readable page saying what a feed is. Feed readers ignore it. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
<xsl:output method="html" encoding="UTF-8" doctype-system="about:legacy-compat" indent="no"/>
<xsl:template match="/">
<xsl:variable name="title" select="atom:feed/atom:title | rss/channel/title"/>
<xsl:variable name="self" select="atom:feed/atom:link[@rel='self']/@href | rss/channel/atom:link[@rel='self']/@href"/>
<!-- The HTML page beside every feed file and archive page: the same name ending .html -->
<xsl:variable name="page">
<xsl:choose>
<xsl:when test="substring($self, string-length($self) - 4) = '.atom'"><xsl:value-of select="concat(substring($self, 1, string-length($self) - 5), '.html')"/></xsl:when>
<xsl:when test="substring($self, string-length($self) - 3) = '.rss'"><xsl:value-of select="concat(substring($self, 1, string-length($self) - 4), '.html')"/></xsl:when>
</xsl:choose>
</xsl:variable>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="$title"/> (feed) · {{ site.title }}</title>
<link rel="stylesheet" href="{{ site.css_url }}"/>
</head>
<body>
<header class="site"><nav aria-label="Site"><a href="{{ site.index_url }}">{{ site.title }}</a></nav></header>
<main id="main">
<h1><xsl:value-of select="$title"/></h1>
<div class="note">
<p><strong>This is a web feed.</strong> Subscribe by copying its address into your feed reader (newsboat, NetNewsWire, Feedly, Thunderbird, …); the reader then shows new items as they come.</p>
<p>Address: <code><xsl:value-of select="$self"/></code></p>
<xsl:if test="string($page)"><p><a href="{$page}">Read this feed as a web page</a></p></xsl:if>
</div>
<xsl:choose>
<xsl:when test="atom:feed/atom:entry | rss/channel/item">
<h2>Items</h2>
<ol class="headlines">
<xsl:apply-templates select="atom:feed/atom:entry | rss/channel/item"/>
</ol>
</xsl:when>
<xsl:otherwise><p class="empty">This feed has no items yet.</p></xsl:otherwise>
</xsl:choose>
<xsl:if test="atom:feed/atom:link[@rel='prev-archive']">
<nav class="pager" aria-label="More items"><a rel="prev" href="{atom:feed/atom:link[@rel='prev-archive']/@href}">Older items (archive)</a></nav>
</xsl:if>
</main>
</body>
</html>
</xsl:template>
<xsl:template match="atom:entry">
<li>
<xsl:choose>
<xsl:when test="atom:link[@rel='alternate']"><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></xsl:when>
<xsl:otherwise><xsl:value-of select="atom:title"/></xsl:otherwise>
</xsl:choose>
<xsl:text> </xsl:text>
<span class="meta"><xsl:value-of select="atom:source/atom:title"/> · <time datetime="{atom:published}"><xsl:value-of select="substring(atom:published, 1, 10)"/><xsl:text> </xsl:text><xsl:value-of select="substring(atom:published, 12, 5)"/> UTC</time></span>
</li>
</xsl:template>
<xsl:template match="item">
<li>
<xsl:choose>
<xsl:when test="link"><a href="{link}"><xsl:value-of select="title"/></a></xsl:when>
<xsl:otherwise><xsl:value-of select="title"/></xsl:otherwise>
</xsl:choose>
<xsl:text> </xsl:text>
<span class="meta"><xsl:value-of select="source"/> · <xsl:value-of select="pubDate"/></span>
</li>
</xsl:template>
</xsl:stylesheet>
