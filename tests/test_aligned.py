"""Arrays that start on a 64-byte boundary (data/load.py): a CPU device takes them without a
copy, so the loader builds every split it hands out in one (tests/test_data.py checks that)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from data.load import ALIGNMENT, aligned_copy, aligned_empty


@given(  # every size but zero: an empty array has no data to align
    shape=st.lists(st.integers(1, 40), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from([np.float32, np.uint8, np.int32, np.float64]),
)
def test_aligned_arrays_start_on_the_boundary_whatever_their_size(shape, dtype):
    x = aligned_empty(shape, dtype)
    assert x.shape == shape and x.dtype == dtype and x.flags.c_contiguous and x.flags.writeable
    assert x.ctypes.data % ALIGNMENT == 0
    source = np.arange(np.prod(shape) * 2, dtype=dtype).reshape(2 * shape[0], *shape[1:])
    rows = np.arange(0, 2 * shape[0], 2)
    taken = aligned_copy(source[rows])
    assert taken.ctypes.data % ALIGNMENT == 0
    np.testing.assert_array_equal(taken, source[rows])
