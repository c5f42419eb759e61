"""The codec: what is known about each column, how it is learned with DP, and how values become codes and back.

One room for everything between a user's DataFrame and the integer codes the marginal
path counts (DESIGN: data flow, step 1 and its inverse):

* :mod:`.specs`: column specifications and :class:`Schema` (public facts; reads no data);
* :mod:`.column_types`: a spec from a dtype, and values conformed to their kind;
* :mod:`.learning`: the facts a schema lacks, learned with DP, split over the facts by
  need (:mod:`.kinds`, :mod:`.time_units`, :mod:`.point_masses`, :mod:`.bounds`);
* :mod:`.codec`: encode a frame to codes and decode codes to a frame;
* :mod:`.positions`: where a value sits inside its bin (what refiners learn);
* :mod:`.dataset`: a table of codes with its domain.

``marginals``, ``graphical``, ``refiners``, ``diffusion_model`` and ``federation`` import from here;
nothing here imports from them.
"""

from .specs import (
    DAY_SECONDS,
    DEFAULT_BINS,
    CategoricalColumn,
    ColumnSpec,
    NumericColumn,
    Schema,
    UntypedColumn,
)

__all__ = ["CategoricalColumn", "ColumnSpec", "DAY_SECONDS", "DEFAULT_BINS", "NumericColumn", "Schema", "UntypedColumn"]
