/**
 * The workloads of rtensor's standard comparisons, each with the baseline it is judged against:
 * shared by {@code ./rtensor bench} and the JMH benchmarks of the {@code jmh} module, so both
 * measure the same code.
 */
package io.rtensor.bench;
