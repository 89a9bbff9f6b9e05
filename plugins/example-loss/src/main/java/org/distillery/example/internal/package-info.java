/** The example bundle's internals: its Guice module and its one loss. Bundles export nothing. */
package org.distillery.example.internal;
