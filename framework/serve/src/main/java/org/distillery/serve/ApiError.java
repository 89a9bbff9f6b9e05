package org.distillery.serve;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

/** A request the server refuses, answered as OpenAI's {@code {"error": {message, type, param, code}}}. */
final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    final int status;
    final String type;
    final String param;
    final String code;

    ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** A 400 naming the field at fault. */
    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, "invalid_value", message);
    }

    /** A 400 for a missing field. */
    static ApiError missing(String param, String what) {
        return new ApiError(400, "invalid_request_error", param, "missing_required_parameter",
                "'" + param + "' is required: " + what);
    }

    /** The JSON body. */
    JsonObject body() {
        return body(getMessage(), type, param, code);
    }

    static JsonObject body(String message, String type, String param, String code) {
        JsonObject e = new JsonObject();
        e.addProperty("message", message);
        e.addProperty("type", type);
        if (param == null) {
            e.add("param", JsonNull.INSTANCE);
        } else {
            e.addProperty("param", param);
        }
        if (code == null) {
            e.add("code", JsonNull.INSTANCE);
        } else {
            e.addProperty("code", code);
        }
        JsonObject o = new JsonObject();
        o.add("error", e);
        return o;
    }
}
