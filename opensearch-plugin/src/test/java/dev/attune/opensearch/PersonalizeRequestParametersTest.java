package dev.attune.opensearch;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.Test;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.common.io.stream.BytesStreamOutput;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.ParseField;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.common.io.stream.NamedWriteableAwareStreamInput;
import org.opensearch.core.common.io.stream.NamedWriteableRegistry;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.builder.SearchSourceBuilder;

/** {@code ext.personalize_request_parameters}: parsing, messages, and round trips. */
public class PersonalizeRequestParametersTest {
    private static final NamedXContentRegistry XCONTENT = new NamedXContentRegistry(
        List.of(
            new NamedXContentRegistry.Entry(
                SearchExtBuilder.class,
                new ParseField(PersonalizeRequestParameters.NAME),
                PersonalizeRequestParameters::parse
            )
        )
    );
    private static final NamedWriteableRegistry WRITEABLES = new NamedWriteableRegistry(
        List.of(
            new NamedWriteableRegistry.Entry(SearchExtBuilder.class, PersonalizeRequestParameters.NAME, PersonalizeRequestParameters::new)
        )
    );

    /** A search body parsed the way the node parses it. */
    static SearchSourceBuilder source(String json) throws IOException {
        try (XContentParser p = JsonXContent.jsonXContent.createParser(XCONTENT, DeprecationHandler.THROW_UNSUPPORTED_OPERATION, json)) {
            return SearchSourceBuilder.fromXContent(p);
        }
    }

    static PersonalizeRequestParameters ext(String json) throws IOException {
        SearchRequest request = new SearchRequest().source(source(json));
        return PersonalizeRequestParameters.of(request);
    }

    private static Map<String, String> context(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    public void parsesTheGuideShape() throws IOException {
        PersonalizeRequestParameters p = ext(
            "{\"size\": 3, \"ext\": {\"personalize_request_parameters\": "
                + "{\"user_id\": \"u-42\", \"context\": {\"DEVICE\": \"mobile phone\", \"TIME\": \"night\"}}}}"
        );
        assertEquals("u-42", p.getUserId());
        assertEquals(context("DEVICE", "mobile phone", "TIME", "night"), p.getContext());
        assertEquals(PersonalizeRequestParameters.NAME, p.getWriteableName());
    }

    @Test
    public void userAndContextAreOptional() throws IOException {
        PersonalizeRequestParameters empty = ext("{\"ext\": {\"personalize_request_parameters\": {}}}");
        assertNull(empty.getUserId());
        assertNull(empty.getContext());
        PersonalizeRequestParameters nulls = ext("{\"ext\": {\"personalize_request_parameters\": {\"user_id\": null, \"context\": null}}}");
        assertEquals(empty, nulls);
        assertNull(ext("{\"size\": 1}"));
        assertNull(PersonalizeRequestParameters.of(new SearchRequest()));
    }

    @Test
    public void badExtensionsGetTheRustSidesMessages() {
        String[][] cases = {
            { "{\"user_id\": 42}", "[personalize_request_parameters] user_id doesn't support values of type: VALUE_NUMBER" },
            { "{\"user_id\": \"u\", \"context\": \"mobile\"}", "[personalize_request_parameters] context doesn't support values of type: VALUE_STRING" },
            { "{\"user_id\": \"u\", \"context\": {\"DEVICE\": 5}}", "[context] Personalize context value is not of type String. Invalid context value: 5" },
            { "{\"user_id\": \"u\", \"context\": {\"DEVICE\": null}}", "[context] Personalize context value is not of type String. Invalid context value: null" },
            { "{\"user_id\": \"u\", \"context\": {\"DEVICE\": [1, \"a\"]}}", "[context] Personalize context value is not of type String. Invalid context value: [1,\"a\"]" },
            { "{\"user_id\": \"u\", \"session\": \"s\"}", "[personalize_request_parameters] unknown field [session]" },
            { "\"u-42\"", "[personalize_request_parameters] Expected START_OBJECT but was: VALUE_STRING" } };
        for (String[] c : cases) {
            ParsingException e = assertThrows(c[0], ParsingException.class, () -> ext("{\"ext\": {\"personalize_request_parameters\": " + c[0] + "}}"));
            assertEquals(c[0], c[1], e.getMessage());
        }
    }

    @Test
    public void toXContentWritesTheSectionSoTheSourceReparses() throws IOException {
        for (PersonalizeRequestParameters p : new PersonalizeRequestParameters[] {
            new PersonalizeRequestParameters("u1", context("DEVICE", "tablet")),
            new PersonalizeRequestParameters("u1", null),
            new PersonalizeRequestParameters(null, context("DEVICE", "tablet")),
            new PersonalizeRequestParameters(null, null) }) {
            SearchSourceBuilder source = new SearchSourceBuilder().size(4).ext(List.of(p));
            String json = source.toString();
            assertTrue(json, json.contains("\"ext\":{\"personalize_request_parameters\":{"));
            SearchSourceBuilder again = source(json);
            assertEquals(json, source, again);
            assertEquals(p, again.ext().get(0));
        }
    }

    @Test
    public void travelsBetweenNodesWithOrWithoutUserAndContext() throws IOException {
        for (PersonalizeRequestParameters p : new PersonalizeRequestParameters[] {
            new PersonalizeRequestParameters("u1", context("DEVICE", "tablet", "TIME", "day")),
            new PersonalizeRequestParameters("u1", null),
            new PersonalizeRequestParameters(null, context()),
            new PersonalizeRequestParameters(null, null) }) {
            // The extension alone.
            try (BytesStreamOutput out = new BytesStreamOutput()) {
                p.writeTo(out);
                try (StreamInput in = out.bytes().streamInput()) {
                    PersonalizeRequestParameters back = new PersonalizeRequestParameters(in);
                    assertEquals(p, back);
                    assertEquals(p.hashCode(), back.hashCode());
                }
            }
            // Inside a search request, as a search pipeline's request side copies it.
            SearchRequest request = new SearchRequest("idx").source(new SearchSourceBuilder().ext(List.of(p)));
            try (BytesStreamOutput out = new BytesStreamOutput()) {
                request.writeTo(out);
                try (StreamInput in = new NamedWriteableAwareStreamInput(out.bytes().streamInput(), WRITEABLES)) {
                    SearchRequest back = new SearchRequest(in);
                    assertEquals(p, PersonalizeRequestParameters.of(back));
                }
            }
        }
    }

    @Test
    public void equalsAndHashCodeAreNullSafe() {
        PersonalizeRequestParameters a = new PersonalizeRequestParameters(null, null);
        PersonalizeRequestParameters b = new PersonalizeRequestParameters("u", null);
        PersonalizeRequestParameters c = new PersonalizeRequestParameters("u", context("K", "v"));
        assertEquals(a, new PersonalizeRequestParameters(null, null));
        assertEquals(a.hashCode(), new PersonalizeRequestParameters(null, null).hashCode());
        assertNotEquals(a, b);
        assertNotEquals(b, a);
        assertNotEquals(b, c);
        assertNotEquals(c, b);
        assertFalse(a.equals(null));
        assertSame(PersonalizeRequestParameters.NAME, c.getWriteableName());
        // No user id in toString (search sources end up in logs).
        assertFalse(c.toString().contains("\"u\""));
        assertFalse(c.toString(), c.toString().contains("=u,"));
    }
}
