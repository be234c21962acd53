"""Imported last by the parse workers' forkserver (``run.digesting``), and by nothing else.

Everything the forkserver imported is frozen here (``gc.freeze``): the workers forked from it
share those pages with it until they write to them, and a collection in a worker would write
to every object it tracks. Frozen objects are left out of collections.
"""

import gc

gc.freeze()
