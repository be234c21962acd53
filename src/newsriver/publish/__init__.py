"""From stored stories to files and HTTP: selection, rendering per format, archives, pages, WebSub, the server."""
