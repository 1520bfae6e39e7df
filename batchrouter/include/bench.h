/* bench: sweeps of load (% of R*), pattern and policy; CSV, table, gnuplot. */
#ifndef BATCHROUTER_BENCH_H
#define BATCHROUTER_BENCH_H

int bench__main(int argc, char **argv);

#endif
