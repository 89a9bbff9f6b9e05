/** The Distillery kernel: boots Felix with the shared services and runs experiments. */
package org.distillery.kernel;
