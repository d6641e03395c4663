"""The framework-free core: the balanced QP and its solvers (paper objective and maxmin),
grouping of identical label rows (Proposition 1), the probability samplers and the frequency
report. Imports numpy, scipy, threadpoolctl, torch (for the samplers) and no detection
framework."""
