# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-batch column builders for the output tables (pystack.results.writer).

Models no kernel code.  One nogil pass where numpy needs several (and
several temporary arrays) over a batch: the packets table's netfilter
rule columns from the engine's nf_rule through the writer's lookup tables.
"""
import numpy as np
from libc.stdint cimport uint8_t, int32_t, int64_t


def rule_columns(const int32_t[::1] nf_rule, const uint8_t[::1] family,
                 const int32_t[::1] rule_id, int32_t width,
                 const int32_t[::1] chain_of, const int32_t[::1] number_of):
    """The deciding rule's columns of a batch: nf_rule (the engine's index
    into its family's ruleset, -1 none) and family (ip_ver) -> (rule_id,
    number, chain index: int32[n]; validity bitmap of the chain; rows
    without a rule).  rule_id[min(family, 6) * width + nf_rule + 1] is the
    rule's id (-1 at nf_rule -1 and where the family has no such rule: an
    IndexError); chain_of / number_of[id + 1] its chain (dictionary index)
    and number (index 0: none)."""
    cdef Py_ssize_t n = nf_rule.shape[0], i
    rid_a = np.empty(n, np.int32)
    num_a = np.empty(n, np.int32)
    chain_a = np.empty(n, np.int32)
    bm = np.zeros((n + 7) // 8, np.uint8)
    cdef int32_t[::1] rid = rid_a, num = num_a, chain = chain_a
    cdef uint8_t[::1] b = bm
    cdef int64_t key, look, nulls = 0
    cdef int32_t r
    cdef int64_t nkeys = rule_id.shape[0], nrules = chain_of.shape[0]
    cdef bint bad = False
    if number_of.shape[0] != nrules:
        raise ValueError("chain_of and number_of differ in length")
    with nogil:
        for i in range(n):
            r = nf_rule[i]
            if r < 0:
                rid[i] = -1
                num[i] = number_of[0]
                chain[i] = chain_of[0]
                nulls += 1
                continue
            key = <int64_t>(family[i] if family[i] < 6 else 6) * width + r + 1
            if key >= nkeys:
                bad = True
                break
            rid[i] = rule_id[key]
            look = <int64_t>rid[i] + 1
            if look <= 0 or look >= nrules:
                # no such rule in the family's ruleset
                bad = True
                break
            num[i] = number_of[look]
            chain[i] = chain_of[look]
            b[i >> 3] |= <uint8_t>(1 << (i & 7))
    if bad:
        raise IndexError(f"row {i}: nf_rule {nf_rule[i]} (family {family[i]}) is not in "
                         "the loaded rulesets")
    return rid_a, num_a, chain_a, bm, nulls
