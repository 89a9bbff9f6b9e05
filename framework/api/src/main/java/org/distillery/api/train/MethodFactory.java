package org.distillery.api.train;

import java.util.List;

import com.typesafe.config.Config;

/** Contribution kind {@code methods}: turns a method's parameters into its stages. */
public interface MethodFactory extends org.distillery.api.ContributionFactory {
    /** The stages to run, in order. */
    List<Stage> stages(Config params);
}
