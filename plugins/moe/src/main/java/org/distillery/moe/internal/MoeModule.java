package org.distillery.moe.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.loss.LossFactory;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.teacher.TeacherFactory;

/**
 * The moe bundle's contributions (sparse-to-dense MoE distillation), named by its {@code Distillery-Module} manifest
 * header. Every key bound here has its defaults in {@code reference.conf}.
 * <ul>
 *   <li>{@code moe.aggregate} (initializer): a dense student gathered from the MoE teacher's experts;</li>
 *   <li>{@code moe.ka} (teacher and loss): Knowledge Augmentation, M passes with sampled experts;</li>
 *   <li>{@code moe.sar} (teacher): the Student-Aware Router, trained toward the student every batch.</li>
 * </ul>
 */
public final class MoeModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public MoeModule() {
    }

    @Override
    protected void configure() {
        MapBinder.newMapBinder(binder(), String.class, ModelInitializerFactory.class)
                .addBinding(AggregateInitializer.KEY).toInstance(new AggregateInitializer.Factory());
        MapBinder<String, TeacherFactory> teachers = MapBinder.newMapBinder(binder(), String.class, TeacherFactory.class);
        teachers.addBinding(KaTeacher.KEY).toInstance(new KaTeacher.Factory());
        teachers.addBinding(SarTeacher.KEY).toInstance(new SarTeacher.Factory());
        MapBinder.newMapBinder(binder(), String.class, LossFactory.class)
                .addBinding(KaLoss.KEY).toInstance(new KaLoss.Factory());
    }
}
