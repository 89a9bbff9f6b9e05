package org.distillery.serve;

/** Every {@link OpenAiServerTest} case with the window scheduler ({@code --scheduler window}). */
class WindowOpenAiServerTest extends OpenAiServerTest {

    @Override
    ServeOptions.Scheduling scheduling() {
        return ServeOptions.Scheduling.WINDOW;
    }
}
