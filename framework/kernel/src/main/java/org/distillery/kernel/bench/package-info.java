/**
 * Benchmarks the kernel runs over contributions it finds in the registry ({@code distill bench loss}),
 * so that no benchmark reaches into a bundle's internals.
 */
package org.distillery.kernel.bench;
