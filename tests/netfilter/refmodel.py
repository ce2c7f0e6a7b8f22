"""Pure-Python reference of the evaluator's random source, to check the C
code against the documented algorithm rather than against itself."""

M64 = (1 << 64) - 1


def splitmix64(state):
    """One splitmix64 step: returns (new_state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def statistic_random(state, prob_q):
    """xt_statistic random mode: (get_random_u32() & 0x7FFFFFFF) < P, the u32
    being the top half of a splitmix64 output."""
    state, out = splitmix64(state)
    return state, ((out >> 32) & 0x7FFFFFFF) < prob_q
