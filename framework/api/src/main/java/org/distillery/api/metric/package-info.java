/** Metrics and evaluators: text metrics, calibration, exposure bias, judge scores. */
package org.distillery.api.metric;
