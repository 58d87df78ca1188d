package dev.attune.opensearch;

import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

import org.opensearch.action.search.SearchRequest;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.search.SearchExtBuilder;

/**
 * The search request extension {@code ext.personalize_request_parameters}:
 * {@code {"user_id": string, "context": {string: string}}}, read like Amazon's plugin reads it,
 * with both members optional here (a processor with weight 0 needs no user). Unlike Amazon's,
 * it travels between nodes without a user id or a context, and writes itself back under its
 * section name so a search source prints and re-parses.
 *
 * <p>Messages (those of Attune's {@code plugin_config::RequestParameters}):
 * {@code [personalize_request_parameters] unknown field [x]},
 * {@code [personalize_request_parameters] user_id doesn't support values of type: VALUE_NUMBER},
 * {@code [context] Personalize context value is not of type String. Invalid context value: 5},
 * {@code [personalize_request_parameters] Expected START_OBJECT but was: VALUE_STRING}.
 */
public final class PersonalizeRequestParameters extends SearchExtBuilder {
    /** The extension's name under {@code ext}. */
    public static final String NAME = "personalize_request_parameters";

    private final String userId;
    private final Map<String, String> context;

    /**
     * An extension.
     *
     * @param userId the user, or null
     * @param context the context, or null
     */
    public PersonalizeRequestParameters(String userId, Map<String, String> context) {
        this.userId = userId;
        this.context = context == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(context));
    }

    /**
     * Reads the extension as another node wrote it.
     *
     * @param in the stream
     * @throws IOException on a stream error
     */
    public PersonalizeRequestParameters(StreamInput in) throws IOException {
        this.userId = in.readOptionalString();
        if (in.readBoolean()) {
            Map<String, String> m = new LinkedHashMap<>();
            int n = in.readVInt();
            for (int i = 0; i < n; i++) {
                m.put(in.readString(), in.readString());
            }
            this.context = Collections.unmodifiableMap(m);
        } else {
            this.context = null;
        }
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeOptionalString(userId);
        out.writeBoolean(context != null);
        if (context != null) {
            out.writeVInt(context.size());
            for (Map.Entry<String, String> e : context.entrySet()) {
                out.writeString(e.getKey());
                out.writeString(e.getValue());
            }
        }
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject(NAME);
        if (userId != null) {
            builder.field("user_id", userId);
        }
        if (context != null) {
            builder.startObject("context");
            for (Map.Entry<String, String> e : context.entrySet()) {
                builder.field(e.getKey(), e.getValue());
            }
            builder.endObject();
        }
        return builder.endObject();
    }

    /**
     * Parses the extension's value (the parser is on its first token).
     *
     * @param parser the parser
     * @return the extension
     * @throws IOException on a parse error
     */
    public static PersonalizeRequestParameters parse(XContentParser parser) throws IOException {
        XContentParser.Token token = parser.currentToken();
        if (token == null) {
            token = parser.nextToken();
        }
        if (token != XContentParser.Token.START_OBJECT) {
            throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] Expected START_OBJECT but was: " + token);
        }
        String userId = null;
        Map<String, String> context = null;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            if (token != XContentParser.Token.FIELD_NAME) {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] Expected FIELD_NAME but was: " + token);
            }
            String field = parser.currentName();
            token = parser.nextToken();
            if (field.equals("user_id")) {
                if (token == XContentParser.Token.VALUE_STRING) {
                    userId = parser.text();
                } else if (token != XContentParser.Token.VALUE_NULL) {
                    throw wrongType(parser, field, token);
                }
            } else if (field.equals("context")) {
                if (token == XContentParser.Token.START_OBJECT) {
                    context = parseContext(parser);
                } else if (token != XContentParser.Token.VALUE_NULL) {
                    throw wrongType(parser, field, token);
                }
            } else {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] unknown field [" + field + "]");
            }
        }
        return new PersonalizeRequestParameters(userId, context);
    }

    private static Map<String, String> parseContext(XContentParser parser) throws IOException {
        Map<String, String> context = new LinkedHashMap<>();
        XContentParser.Token token;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            String key = parser.currentName();
            token = parser.nextToken();
            if (token == XContentParser.Token.VALUE_STRING) {
                context.put(key, parser.text());
            } else {
                Object value;
                switch (token) {
                    case VALUE_NUMBER:
                        value = parser.numberValue();
                        break;
                    case VALUE_BOOLEAN:
                        value = parser.booleanValue();
                        break;
                    case VALUE_NULL:
                        value = null;
                        break;
                    case START_OBJECT:
                        value = parser.map();
                        break;
                    case START_ARRAY:
                        value = parser.list();
                        break;
                    default:
                        value = parser.text();
                }
                throw new ParsingException(
                    parser.getTokenLocation(),
                    "[context] Personalize context value is not of type String. Invalid context value: " + ProcessorConfig.jsonText(value)
                );
            }
        }
        return context;
    }

    private static ParsingException wrongType(XContentParser parser, String field, XContentParser.Token token) {
        return new ParsingException(parser.getTokenLocation(), "[" + NAME + "] " + field + " doesn't support values of type: " + token);
    }

    /**
     * The extension of a search request, or null.
     *
     * @param request the search request
     * @return its {@code personalize_request_parameters}, or null
     */
    public static PersonalizeRequestParameters of(SearchRequest request) {
        if (request == null || request.source() == null || request.source().ext() == null) {
            return null;
        }
        for (SearchExtBuilder ext : request.source().ext()) {
            if (ext instanceof PersonalizeRequestParameters) {
                return (PersonalizeRequestParameters) ext;
            }
        }
        return null;
    }

    /** The user, or null. */
    public String getUserId() {
        return userId;
    }

    /** The context, or null when the search sent none. */
    public Map<String, String> getContext() {
        return context;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof PersonalizeRequestParameters)) {
            return false;
        }
        PersonalizeRequestParameters other = (PersonalizeRequestParameters) o;
        return Objects.equals(userId, other.userId) && Objects.equals(context, other.context);
    }

    @Override
    public int hashCode() {
        return Objects.hash(userId, context);
    }

    @Override
    public String toString() {
        // No user id: search sources get logged (slow log) and user ids are personal data.
        return NAME + "{user_id=" + (userId == null ? "absent" : "present") + ", context keys=" + (context == null ? "[]" : context.keySet()) + "}";
    }
}
