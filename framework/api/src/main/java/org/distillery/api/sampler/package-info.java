/**
 * Samplers decide where training sequences come from: a dataset, teacher-generated
 * responses, student (on-policy) generations, or a mix.
 */
package org.distillery.api.sampler;
