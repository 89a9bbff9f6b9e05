/**
 * Test support for the framework's modules and for method bundles: {@link org.distillery.testkit.TestRunContext},
 * a run with real tensor, model and data services, a registry filled from Guice modules as the kernel fills
 * it, and the narrow contexts the trainer hands each kind of contribution.
 */
package org.distillery.testkit;
