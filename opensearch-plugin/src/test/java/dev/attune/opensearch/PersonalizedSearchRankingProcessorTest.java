package dev.attune.opensearch;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.lucene.search.TotalHits;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.opensearch.search.sort.SortBuilder;
import org.opensearch.search.sort.SortBuilders;
import org.opensearch.search.sort.SortOrder;
import org.opensearch.ExceptionsHelper;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.action.search.SearchResponseSections;
import org.opensearch.action.search.ShardSearchFailure;
import org.opensearch.common.document.DocumentField;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.common.util.concurrent.ThreadContext;
import org.opensearch.core.xcontent.MediaTypeRegistry;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.search.DocValueFormat;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.SearchHit;
import org.opensearch.search.SearchHits;
import org.opensearch.search.aggregations.InternalAggregation;
import org.opensearch.search.aggregations.InternalAggregations;
import org.opensearch.search.aggregations.metrics.InternalMax;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.pipeline.PipelineAccess;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchPipelineProcessingException;
import org.opensearch.search.pipeline.SearchResponseProcessor;
import org.opensearch.search.profile.NetworkTime;
import org.opensearch.search.profile.ProfileShardResult;
import org.opensearch.search.profile.SearchProfileShardResults;
import org.opensearch.search.profile.aggregation.AggregationProfileShardResult;
import org.opensearch.search.suggest.Suggest;

/**
 * The processor against a local stub of Attune's {@code POST /opensearch/rerank}: the body it
 * sends, how it applies the answer, and every failure mapping, directly and through OpenSearch
 * core's pipeline (ignore_failure, HTTP status).
 */
public class PersonalizedSearchRankingProcessorTest {
    private static final String ARN = "arn:aws:personalize:local:000000000000:campaign/demo-ranking";

    private StubAttune attune;
    private ThreadContext threadContext;

    @Before
    public void start() throws IOException {
        attune = new StubAttune();
        threadContext = new ThreadContext(Settings.EMPTY);
    }

    @After
    public void stop() {
        attune.close();
    }

    private AttuneClient client(String apiKey, TimeValue timeout) {
        return new AttuneClient(attune.endpoint(), timeout, apiKey);
    }

    private Map<String, Object> config(Object weight, String itemIdField) {
        Map<String, Object> c = new HashMap<>();
        c.put("campaign_arn", ARN);
        c.put("recipe", "aws-personalized-ranking");
        c.put("weight", weight);
        if (itemIdField != null) {
            c.put("item_id_field", itemIdField);
        }
        return c;
    }

    private PersonalizedSearchRankingProcessor processor(AttuneClient client, Object weight, String itemIdField) {
        PersonalizedSearchRankingProcessor.Factory factory = new PersonalizedSearchRankingProcessor.Factory(client, threadContext);
        return (PersonalizedSearchRankingProcessor) factory.create(
            Map.of(),
            "personalize-processor",
            null,
            false,
            config(weight, itemIdField),
            new Processor.PipelineContext(Processor.PipelineSource.UPDATE_PIPELINE)
        );
    }

    private static SearchRequest request(String userId, Map<String, String> context) {
        SearchSourceBuilder source = new SearchSourceBuilder();
        if (userId != null || context != null) {
            source.ext(List.of(new PersonalizeRequestParameters(userId, context)));
        }
        return new SearchRequest("demo-catalog").source(source);
    }

    private static SearchHit hit(String id, float score, String source) {
        SearchHit h = new SearchHit(0, id, new HashMap<>(), new HashMap<>());
        h.score(score);
        if (source != null) {
            h.sourceRef(new BytesArray(source));
        }
        return h;
    }

    /** Four hits: a string id, a number id, one without the field, a nested id only. */
    private static SearchHit[] hits() {
        return new SearchHit[] {
            hit("d0", 4f, "{\"item_id\": \"i0\", \"title\": \"zero\"}"),
            hit("d1", 3f, "{\"item_id\": 42}"),
            hit("d2", 2f, "{\"title\": \"no id\"}"),
            hit("d3", 1f, "{\"item_id\": \"i3\"}") };
    }

    private static final class Parts {
        final InternalAggregations aggregations = InternalAggregations.from(
            List.<InternalAggregation>of(new InternalMax("max_price", 9.5, DocValueFormat.RAW, Map.of()))
        );
        final Suggest suggest = new Suggest(new ArrayList<>());
        final SearchProfileShardResults profile = new SearchProfileShardResults(
            Map.of("[node][idx][0]", new ProfileShardResult(List.of(), new AggregationProfileShardResult(List.of()), new NetworkTime(1, 2)))
        );
        final List<SearchExtBuilder> responseExt = List.of(new PersonalizeRequestParameters("ext-in-response", null));
        final ShardSearchFailure[] failures = new ShardSearchFailure[] { new ShardSearchFailure(new IllegalStateException("shard down")) };
        final SearchResponse.Clusters clusters = new SearchResponse.Clusters(3, 2, 1);
        final SearchResponse.PhaseTook phaseTook = new SearchResponse.PhaseTook(Map.of("query", 5L, "fetch", 2L));
        final TotalHits total = new TotalHits(1234, TotalHits.Relation.GREATER_THAN_OR_EQUAL_TO);
    }

    private static SearchResponse response(SearchHit[] hits, Parts p) {
        return response(hits, p, null, "pit-1");
    }

    private static SearchResponse response(SearchHit[] hits, Parts p, String scrollId, String pitId) {
        SearchHits searchHits = new SearchHits(hits, p.total, hits.length == 0 ? Float.NaN : hits[0].getScore());
        SearchResponseSections sections = new SearchResponseSections(
            searchHits,
            p.aggregations,
            p.suggest,
            true,
            Boolean.TRUE,
            p.profile,
            3,
            p.responseExt
        );
        return new SearchResponse(sections, scrollId, 5, 4, 1, 7, p.phaseTook, p.failures, p.clusters, pitId);
    }

    /** Runs the processor and waits for its answer. */
    private SearchResponse run(SearchResponseProcessor processor, SearchRequest request, SearchResponse response) throws Exception {
        CompletableFuture<SearchResponse> result = new CompletableFuture<>();
        processor.processResponseAsync(request, response, null, ActionListener.wrap(result::complete, result::completeExceptionally));
        try {
            return result.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    private static String[] ids(SearchResponse r) {
        return Arrays.stream(r.getHits().getHits()).map(SearchHit::getId).toArray(String[]::new);
    }

    @Test
    public void rerankAppliesOrderAndScoresAndKeepsEverythingElse() throws Exception {
        attune.answer(200, "{\"order\": [3, 0, 2, 1], \"scores\": [0.9, 0.75, 0.5, 0.25], \"reranked\": 4}");
        Parts parts = new Parts();
        SearchResponse original = response(hits(), parts);
        Map<String, String> context = new LinkedHashMap<>();
        context.put("DEVICE", "mobile phone");
        threadContext.putHeader("X-Opaque-Id", "search-1");
        CompletableFuture<String> headerSeen = new CompletableFuture<>();
        CompletableFuture<SearchResponse> result = new CompletableFuture<>();
        processor(client("s3cret", TimeValue.timeValueSeconds(5)), "0.3", "item_id").processResponseAsync(
            request("u1", context),
            original,
            null,
            ActionListener.wrap(r -> {
                headerSeen.complete(threadContext.getHeader("X-Opaque-Id") + " on " + Thread.currentThread().getName());
                result.complete(r);
            }, result::completeExceptionally)
        );
        SearchResponse r = result.get(30, TimeUnit.SECONDS);

        // The request: path, headers, and the body of the contract.
        StubAttune.Received sent = attune.only();
        assertEquals("POST", sent.method);
        assertEquals("/opensearch/rerank", sent.path);
        assertEquals("s3cret", sent.header("x-api-key"));
        assertEquals("application/json", sent.header("Content-Type"));
        Map<String, Object> body = sent.json();
        assertEquals(ARN, body.get("campaignArn"));
        assertEquals(0.3, ((Number) body.get("weight")).doubleValue(), 0.0);
        assertEquals("u1", body.get("userId"));
        assertEquals(Map.of("DEVICE", "mobile phone"), body.get("context"));
        assertEquals(Arrays.asList("i0", 42, null, "i3"), body.get("itemIds"));
        assertEquals(List.of("campaignArn", "weight", "userId", "context", "itemIds"), new ArrayList<>(body.keySet()));

        // The hits: Attune's order, its scores, max_score.
        assertArrayEquals(new String[] { "d3", "d0", "d2", "d1" }, ids(r));
        float[] scores = new float[4];
        for (int k = 0; k < 4; k++) {
            scores[k] = r.getHits().getHits()[k].getScore();
        }
        assertArrayEquals(new float[] { 0.9f, 0.75f, 0.5f, 0.25f }, scores, 0f);
        assertEquals(0.9f, r.getHits().getMaxScore(), 0f);
        // Everything else kept.
        assertSame(parts.total, r.getHits().getTotalHits());
        assertSame(parts.aggregations, r.getAggregations());
        assertSame(parts.suggest, r.getSuggest());
        assertEquals(parts.profile.getShardResults(), r.getProfileResults());
        assertTrue(r.isTimedOut());
        assertEquals(Boolean.TRUE, r.isTerminatedEarly());
        assertEquals(3, r.getNumReducePhases());
        assertNull(r.getScrollId());
        assertEquals("pit-1", r.pointInTimeId());
        assertEquals(5, r.getTotalShards());
        assertEquals(4, r.getSuccessfulShards());
        assertEquals(1, r.getSkippedShards());
        assertSame(parts.failures, r.getShardFailures());
        assertSame(parts.clusters, r.getClusters());
        assertSame(parts.phaseTook, r.getPhaseTook());
        assertEquals(parts.responseExt, r.getInternalResponse().getSearchExtBuilders());
        assertTrue(r.getTook().millis() >= 7);
        // The result was applied on the client's thread that made the call, in the search's
        // thread context.
        assertTrue(headerSeen.get(), headerSeen.get().startsWith("search-1 on attune-rerank-"));
        // And it prints (the REST layer's view).
        String json = org.opensearch.core.common.Strings.toString(MediaTypeRegistry.JSON, r);
        assertTrue(json, json.contains("\"max_price\"") && json.contains("\"pit_id\":\"pit-1\""));

        // A scroll page keeps its scroll id.
        SearchResponse scrolled = run(
            processor(client(null, TimeValue.timeValueSeconds(5)), "0.3", "item_id"),
            request("u1", null),
            response(hits(), new Parts(), "scroll-1", null)
        );
        assertEquals("scroll-1", scrolled.getScrollId());
        assertNull(scrolled.pointInTimeId());
        assertArrayEquals(new String[] { "d3", "d0", "d2", "d1" }, ids(scrolled));
    }

    @Test
    public void noApiKeyNoHeaderAndNoContextNoMember() throws Exception {
        attune.answer(200, "{\"order\": [0, 1, 2, 3], \"scores\": [1, 0.5, 0.4, 0.3], \"reranked\": 4}");
        run(processor(client(null, TimeValue.timeValueSeconds(5)), 1, null), request("u1", null), response(hits(), new Parts()));
        StubAttune.Received sent = attune.only();
        assertNull(sent.header("x-api-key"));
        Map<String, Object> body = sent.json();
        assertTrue(body.toString(), !body.containsKey("context"));
        // No item_id_field: the document ids.
        assertEquals(List.of("d0", "d1", "d2", "d3"), body.get("itemIds"));
        assertEquals(1.0, ((Number) body.get("weight")).doubleValue(), 0.0);
    }

    @Test
    public void aLaterPageSendsItsFrom() throws Exception {
        attune.answer(200, "{\"order\": [1, 0, 2, 3], \"scores\": [0.2, 0.19, 0.18, 0.17], \"reranked\": 4}");
        SearchRequest request = request("u1", null);
        request.source().from(20).size(4);
        SearchResponse r = run(processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id"), request, response(hits(), new Parts()));
        StubAttune.Received sent = attune.only();
        assertTrue(sent.body, sent.body.endsWith(",\"from\":20}"));
        Map<String, Object> body = sent.json();
        assertEquals(20, body.get("from"));
        assertEquals(List.of("campaignArn", "weight", "userId", "itemIds", "from"), new ArrayList<>(body.keySet()));
        assertArrayEquals(new String[] { "d1", "d0", "d2", "d3" }, ids(r));
    }

    @Test
    public void aFirstPageSendsNoFrom() throws Exception {
        PersonalizedSearchRankingProcessor p = processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id");
        SearchRequest unset = request("u1", null);
        SearchRequest zero = request("u1", null);
        zero.source().from(0);
        for (SearchRequest request : new SearchRequest[] { unset, zero }) {
            attune.received.clear();
            attune.answer(200, "{\"order\": [0, 1, 2, 3], \"scores\": [1, 0.5, 0.4, 0.3], \"reranked\": 4}");
            run(p, request, response(hits(), new Parts()));
            Map<String, Object> body = attune.only().json();
            assertTrue(body.toString(), !body.containsKey("from"));
            assertEquals(List.of("campaignArn", "weight", "userId", "itemIds"), new ArrayList<>(body.keySet()));
        }
        assertEquals(-1, unset.source().from());
        assertEquals(0, PersonalizedSearchRankingProcessor.from(unset));
        assertEquals(0, PersonalizedSearchRankingProcessor.from(new SearchRequest()));
        assertEquals(0, PersonalizedSearchRankingProcessor.from(null));
    }

    @Test
    public void weightZeroLeavesTheResponseUntouchedWithoutACallOrAUser() throws Exception {
        SearchResponse original = response(hits(), new Parts());
        SearchResponse r = run(processor(client(null, TimeValue.timeValueSeconds(5)), 0, "item_id"), new SearchRequest(), original);
        assertSame(original, r);
        assertEquals(0, attune.received.size());
    }

    @Test
    public void noHitsLeavesTheResponseUntouchedWithoutACall() throws Exception {
        SearchResponse original = response(new SearchHit[0], new Parts());
        SearchResponse r = run(processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id"), request("u1", null), original);
        assertSame(original, r);
        assertEquals(0, attune.received.size());
    }

    @Test
    public void aMissingOrBlankUserIsABadRequest() {
        PersonalizedSearchRankingProcessor p = processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id");
        for (SearchRequest request : new SearchRequest[] {
            new SearchRequest(),
            request(null, Map.of("DEVICE", "x")),
            request("  ", null) }) {
            Exception e = expectFailure(p, request, response(hits(), new Parts()));
            assertEquals(IllegalArgumentException.class, e.getClass());
            assertEquals(PersonalizedSearchRankingProcessor.MISSING_USER, e.getMessage());
            assertTrue(e.getMessage().startsWith("[user_id] required Personalize request parameter is missing"));
        }
        assertEquals(0, attune.received.size());
    }

    @Test
    public void itemIdsFromNestedAndFetchedFieldsAndDocumentIds() {
        SearchHit nested = hit("n", 1f, "{\"product\": {\"id\": \"p9\"}, \"a.b\": \"literal\", \"empty\": \"\", \"flag\": true, \"f\": 1.5}");
        assertEquals("p9", PersonalizedSearchRankingProcessor.itemId(nested, "product.id"));
        assertEquals("literal", PersonalizedSearchRankingProcessor.itemId(nested, "a.b"));
        assertEquals(1.5, PersonalizedSearchRankingProcessor.itemId(nested, "f"));
        assertNull(PersonalizedSearchRankingProcessor.itemId(nested, "empty"));
        assertNull(PersonalizedSearchRankingProcessor.itemId(nested, "flag"));
        assertNull(PersonalizedSearchRankingProcessor.itemId(nested, "product"));
        assertNull(PersonalizedSearchRankingProcessor.itemId(nested, "product.nope"));
        assertNull(PersonalizedSearchRankingProcessor.itemId(nested, "nope"));
        assertEquals("n", PersonalizedSearchRankingProcessor.itemId(nested, "_id"));
        // No _source: a fetched field (docvalue_fields / fields) of that name.
        Map<String, DocumentField> fields = new HashMap<>();
        fields.put("item_id", new DocumentField("item_id", List.of("i7")));
        SearchHit fetched = new SearchHit(0, "x", fields, new HashMap<>());
        assertEquals("i7", PersonalizedSearchRankingProcessor.itemId(fetched, "item_id"));
        assertNull(PersonalizedSearchRankingProcessor.itemId(hit("y", 1f, null), "item_id"));
    }

    @Test
    public void attune4xxIsABadRequestWithAttunesMessage() {
        attune.answer(404, "{\"__type\": \"ResourceNotFoundException\", \"message\": \"campaign not found: " + ARN + "\"}");
        PersonalizedSearchRankingProcessor p = processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id");
        Exception e = expectFailure(p, request("u1", null), response(hits(), new Parts()));
        assertEquals(IllegalArgumentException.class, e.getClass());
        assertTrue(e.getMessage(), e.getMessage().contains("campaign not found: " + ARN));
        assertTrue(e.getMessage(), e.getMessage().contains("404"));
        assertEquals(RestStatus.BAD_REQUEST, ExceptionsHelper.status(e));
    }

    @Test
    public void attuneRefusingTheKeyIsAServerErrorNamingTheKeystoreSetting() {
        attune.answer(403, "{\"__type\": \"AccessDeniedException\", \"message\": \"missing or wrong API key\"}");
        for (String key : new String[] { null, "not-attunes" }) {
            Exception e = expectFailure(
                processor(client(key, TimeValue.timeValueSeconds(5)), "0.5", "item_id"),
                request("u1", null),
                response(hits(), new Parts())
            );
            assertEquals(RestStatus.INTERNAL_SERVER_ERROR, ExceptionsHelper.status(e));
            assertTrue(e.getMessage(), e.getMessage().contains("keystore as personalized_search_ranking.service.api_key"));
            assertTrue(e.getMessage(), e.getMessage().contains(key == null ? "the node has none" : "the node's key is not Attune's"));
            assertTrue(e.getMessage(), e.getMessage().contains("HTTP 403: missing or wrong API key"));
        }
    }

    @Test
    public void hitsWithoutAnyItemIdFailNamingTheField() {
        SearchHit[] noIds = new SearchHit[] { hit("d0", 2f, "{\"item_id\": \"i0\"}"), hit("d1", 1f, "{\"item_id\": \"i1\"}") };
        Exception e = expectFailure(
            processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "itme_id"),
            request("u1", null),
            response(noIds, new Parts())
        );
        assertEquals(RestStatus.INTERNAL_SERVER_ERROR, ExceptionsHelper.status(e));
        assertTrue(e.getMessage(), e.getMessage().startsWith("[item_id_field] none of the 2 hits has an item id in the field [itme_id]"));
        assertEquals(0, attune.received.size());
    }

    @Test
    public void searchesSortedByAFieldPassThroughWithoutACall() throws Exception {
        PersonalizedSearchRankingProcessor p = processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id");
        for (SortBuilder<?> sort : new SortBuilder<?>[] {
            SortBuilders.fieldSort("price"),
            SortBuilders.scoreSort().order(SortOrder.ASC),
            SortBuilders.fieldSort("_id") }) {
            SearchRequest request = request("u1", null);
            request.source().sort(sort);
            SearchResponse original = response(hits(), new Parts());
            assertSame(original, run(p, request, original));
        }
        assertEquals(0, attune.received.size());
        // Sorted by _score (descending) first: re-ranked as any search.
        attune.answer(200, "{\"order\": [1, 0, 2, 3], \"scores\": [1, 0.5, 0.4, 0.3], \"reranked\": 4}");
        SearchRequest request = request("u1", null);
        request.source().sort(SortBuilders.scoreSort()).sort(SortBuilders.fieldSort("price"));
        assertArrayEquals(new String[] { "d1", "d0", "d2", "d3" }, ids(run(p, request, response(hits(), new Parts()))));
    }

    @Test
    public void attune5xxIsABadGateway() {
        attune.answer(500, "{\"__type\": \"InternalError\", \"message\": \"model file unreadable\"}");
        Exception e = expectFailure(
            processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id"),
            request("u1", null),
            response(hits(), new Parts())
        );
        assertEquals(OpenSearchStatusException.class, e.getClass());
        assertEquals(RestStatus.BAD_GATEWAY, ((OpenSearchStatusException) e).status());
        assertTrue(e.getMessage(), e.getMessage().contains("model file unreadable"));
    }

    @Test
    public void anAnswerThatIsNotAPermutationIsABadGateway() {
        for (String answer : new String[] {
            "{\"order\": [0, 0, 1, 2], \"scores\": [1, 1, 1, 1]}",
            "{\"order\": [0, 1, 2], \"scores\": [1, 1, 1]}",
            "{\"order\": [0, 1, 2, 3]}",
            "not json" }) {
            attune.answer(200, answer);
            Exception e = expectFailure(
                processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id"),
                request("u1", null),
                response(hits(), new Parts())
            );
            assertEquals(answer, RestStatus.BAD_GATEWAY, ((OpenSearchStatusException) e).status());
        }
    }

    @Test
    public void aSlowAttuneTimesOut() {
        attune.hold();
        Exception e = expectFailure(
            processor(client(null, TimeValue.timeValueMillis(300)), "0.5", "item_id"),
            request("u1", null),
            response(hits(), new Parts())
        );
        assertEquals(RestStatus.GATEWAY_TIMEOUT, ((OpenSearchStatusException) e).status());
        assertTrue(e.getMessage(), e.getMessage().contains("did not answer within 300ms"));
    }

    @Test
    public void anUnreachableAttuneIsUnavailable() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        AttuneClient client = new AttuneClient(URI.create("http://127.0.0.1:" + port), TimeValue.timeValueSeconds(5), null);
        Exception e = expectFailure(processor(client, "0.5", "item_id"), request("u1", null), response(hits(), new Parts()));
        assertEquals(RestStatus.SERVICE_UNAVAILABLE, ((OpenSearchStatusException) e).status());
        assertTrue(e.getMessage(), e.getMessage().contains("could not reach Attune at http://127.0.0.1:" + port + "/opensearch/rerank"));
    }

    @Test
    public void theSynchronousFormWaitsForTheCall() throws Exception {
        attune.answer(200, "{\"order\": [1, 0, 2, 3], \"scores\": [1, 0.5, 0.4, 0.3], \"reranked\": 4}");
        SearchResponse r = processor(client(null, TimeValue.timeValueSeconds(5)), "0.5", "item_id").processResponse(
            request("u1", null),
            response(hits(), new Parts())
        );
        assertArrayEquals(new String[] { "d1", "d0", "d2", "d3" }, ids(r));
    }

    /** Core's pipeline: ignore_failure returns the original hits; otherwise the status maps. */
    @Test
    public void throughCoresPipelineIgnoreFailureAndStatuses() throws Exception {
        AttuneClient client = client(null, TimeValue.timeValueSeconds(5));
        Map<String, Processor.Factory<SearchResponseProcessor>> factories = Map.of(
            ProcessorConfig.TYPE,
            new PersonalizedSearchRankingProcessor.Factory(client, threadContext)
        );
        attune.answer(503, "{\"message\": \"campaign is loading\"}");
        for (boolean ignore : new boolean[] { true, false }) {
            Map<String, Object> c = config("0.5", "item_id");
            c.put("ignore_failure", ignore);
            Map<String, Object> body = new HashMap<>();
            body.put("response_processors", List.of(Map.of(ProcessorConfig.TYPE, c)));
            PipelineAccess pipeline = PipelineAccess.create(body, factories, Processor.PipelineSource.SEARCH_REQUEST);
            SearchResponse original = response(hits(), new Parts());
            CompletableFuture<SearchResponse> result = new CompletableFuture<>();
            pipeline.transformResponse(
                request("u1", null),
                original,
                ActionListener.wrap(result::complete, result::completeExceptionally)
            );
            if (ignore) {
                SearchResponse r = result.get(30, TimeUnit.SECONDS);
                assertSame(original, r);
                assertArrayEquals(new String[] { "d0", "d1", "d2", "d3" }, ids(r));
            } else {
                ExecutionException e = org.junit.Assert.assertThrows(ExecutionException.class, () -> result.get(30, TimeUnit.SECONDS));
                assertEquals(SearchPipelineProcessingException.class, e.getCause().getClass());
                assertEquals(RestStatus.BAD_GATEWAY, ExceptionsHelper.status(e.getCause()));
                assertTrue(e.getCause().getMessage(), e.getCause().getMessage().contains("campaign is loading"));
            }
        }
        // A 4xx from Attune reaches the client as 400.
        attune.answer(400, "{\"message\": \"userId: must be 1-256 characters\"}");
        Map<String, Object> body = new HashMap<>();
        body.put("response_processors", List.of(Map.of(ProcessorConfig.TYPE, config("0.5", "item_id"))));
        PipelineAccess pipeline = PipelineAccess.create(body, factories, Processor.PipelineSource.UPDATE_PIPELINE);
        CompletableFuture<SearchResponse> result = new CompletableFuture<>();
        pipeline.transformResponse(
            request("u1", null),
            response(hits(), new Parts()),
            ActionListener.wrap(result::complete, result::completeExceptionally)
        );
        ExecutionException e = org.junit.Assert.assertThrows(ExecutionException.class, () -> result.get(30, TimeUnit.SECONDS));
        assertEquals(RestStatus.BAD_REQUEST, ExceptionsHelper.status(e.getCause()));
        assertNotNull(e.getCause().getMessage());
    }

    private Exception expectFailure(SearchResponseProcessor p, SearchRequest request, SearchResponse response) {
        try {
            run(p, request, response);
        } catch (Exception e) {
            return e;
        }
        throw new AssertionError("expected a failure");
    }
}
