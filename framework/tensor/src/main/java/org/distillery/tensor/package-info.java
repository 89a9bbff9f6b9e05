/**
 * The shared tensor service: engine start (on a thread of its own), device choice and the reason for
 * it, PyTorch's thread counts from the cores available ({@link org.distillery.tensor.ThreadPolicy}),
 * manager scopes, memory reporting, seeding, and an audit of where arrays are created
 * ({@link org.distillery.tensor.TensorAudit}).
 */
package org.distillery.tensor;
