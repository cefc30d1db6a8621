/** JMH benchmarks; every benchmark class measures its baseline in the same run. */
package io.rtensor.jmh;
