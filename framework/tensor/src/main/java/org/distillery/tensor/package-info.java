/** The shared tensor service: engine start, device choice, manager scopes, memory reporting. */
package org.distillery.tensor;
