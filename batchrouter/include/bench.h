/* bench: sweeps of load (% of R*), pattern and policy; CSV, table, gnuplot. */
#ifndef BATCHROUTER_BENCH_H
#define BATCHROUTER_BENCH_H

int bench__main(int argc, char **argv);
/*
 * Parses a comma-separated list of load percentages in (0, 200] into at most
 * @max entries of @v (modifies @s). Returns the count, or -1 when malformed.
 */
int bench__parse_loads(char *s, double *v, unsigned max);

#endif
