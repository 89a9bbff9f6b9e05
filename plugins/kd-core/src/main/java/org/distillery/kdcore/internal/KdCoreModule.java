package org.distillery.kdcore.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.loss.LossFactory;

/**
 * The kd-core bundle's contributions, named by its {@code Distillery-Module} manifest header.
 * Every key bound here has its defaults in {@code reference.conf} under
 * {@code distillery.losses."<key>"}.
 */
public final class KdCoreModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public KdCoreModule() {
    }

    @Override
    protected void configure() {
        MapBinder<String, LossFactory> losses = MapBinder.newMapBinder(binder(), String.class, LossFactory.class);
        losses.addBinding(SftLoss.KEY).toInstance(new SftLoss.Factory());
        losses.addBinding(SeqKdLoss.KEY).toInstance(new SeqKdLoss.Factory());
        losses.addBinding(ForwardKlLoss.KEY).toInstance(new ForwardKlLoss.Factory());
        losses.addBinding(ReverseKlLoss.KEY).toInstance(new ReverseKlLoss.Factory());
        losses.addBinding(JsdLoss.KEY).toInstance(new JsdLoss.Factory());
        losses.addBinding(TvdLoss.KEY).toInstance(new TvdLoss.Factory());
        losses.addBinding(SkewKlLoss.KEY).toInstance(new SkewKlLoss.Factory());
        losses.addBinding(SkewReverseKlLoss.KEY).toInstance(new SkewReverseKlLoss.Factory());
        losses.addBinding(HiddenStateLoss.KEY).toInstance(new HiddenStateLoss.Factory());
    }
}
