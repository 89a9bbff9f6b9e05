package org.distillery.teachers;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.teacher.TeacherFactory;
import org.distillery.teachers.cache.CachedTeacher;
import org.distillery.teachers.remote.RemoteTeacher;

/**
 * The built-in teachers, bound as a bundle binds its contributions (the kernel reads this module
 * from the jar's {@code Distillery-Module} header): {@code teacher.local}, {@code teacher.cached}
 * and {@code teacher.remote}, with defaults in this jar's {@code reference.conf}.
 */
public final class TeachersModule extends AbstractModule {

    @Override
    protected void configure() {
        MapBinder<String, TeacherFactory> teachers = MapBinder.newMapBinder(binder(), String.class, TeacherFactory.class);
        teachers.addBinding(LocalTeacher.KEY).toInstance(new LocalTeacher.Factory());
        teachers.addBinding(CachedTeacher.KEY).toInstance(new CachedTeacher.Factory());
        teachers.addBinding(RemoteTeacher.KEY).toInstance(new RemoteTeacher.Factory());
    }
}
