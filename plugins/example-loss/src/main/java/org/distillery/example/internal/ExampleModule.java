package org.distillery.example.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.loss.LossFactory;

/**
 * The example bundle's contributions, named by its {@code Distillery-Module} manifest header: one
 * {@code MapBinder} per kind, one binding per key; each key's defaults are in {@code reference.conf}
 * under {@code distillery.losses."<key>"}.
 */
public final class ExampleModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public ExampleModule() {
    }

    @Override
    protected void configure() {
        MapBinder.newMapBinder(binder(), String.class, LossFactory.class)
                .addBinding(LogitMseLoss.KEY).toInstance(new LogitMseLoss.Factory());
    }
}
