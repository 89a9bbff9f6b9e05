/** The gkd bundle: GKD (generalized knowledge distillation). */
package org.distillery.gkd.internal;
