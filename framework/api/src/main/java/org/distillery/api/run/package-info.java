/**
 * What a running experiment offers to the contributions it uses: its directory, resolved
 * configuration, event log, tensor scopes and kernel services.
 */
package org.distillery.api.run;
