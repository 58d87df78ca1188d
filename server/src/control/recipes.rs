//! Recipes: ListRecipes, DescribeRecipe. Attune's three built-in recipes; DescribeRecipe also
//! accepts their Personalize aliases (`aws-personalized-ranking-v2`, `aws-sims`, ...) and
//! answers with the canonical recipe.

use attune::model::Recipe;
use serde_json::{json, Value};

use super::groups::DOMAINS;
use super::input::{list_response, Body, Listed, Out};
use super::sdk;
use crate::state::AppState;

/// The recipes, in listing order.
const RECIPES: [Recipe; 3] = [
    Recipe::PersonalizedRanking,
    Recipe::SimilarItems,
    Recipe::PopularityCount,
];

/// When the built-in recipes "were created" (2024-01-01T00:00:00Z).
const CREATED: f64 = 1_704_067_200.0;

struct Listing {
    recipe: Recipe,
    arn: String,
}

impl Listed for Listing {
    fn created(&self) -> f64 {
        CREATED
    }
    fn arn(&self) -> &str {
        &self.arn
    }
}

fn description(recipe: Recipe) -> &'static str {
    match recipe {
        Recipe::PersonalizedRanking => {
            "Ranks a list of items for a user (GetPersonalizedRanking): implicit-feedback matrix \
             factorization (iALS) or EASE, chosen on held-out users, with real-time fold-in of \
             new events"
        }
        Recipe::SimilarItems => {
            "Items similar to an item (GetRecommendations with itemId): co-interaction \
             similarity blended with item metadata"
        }
        Recipe::PopularityCount => {
            "The most popular items by interaction count (GetRecommendations); a baseline"
        }
    }
}

pub(crate) fn list(_state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    req.one_of("recipeProvider", &["SERVICE"])?;
    let domain = req.one_of("domain", &DOMAINS)?;
    let page = req.page()?;
    // Attune's recipes are custom recipes: they belong to no domain.
    let recipes: Vec<Listing> = if domain.is_some() {
        Vec::new()
    } else {
        RECIPES
            .iter()
            .map(|&recipe| Listing {
                recipe,
                arn: recipe.arn(),
            })
            .collect()
    };
    Ok(list_response("recipes", recipes, &page, |l| {
        json!({
            "name": l.recipe.name(),
            "recipeArn": l.arn,
            "status": "ACTIVE",
            "creationDateTime": CREATED,
            "lastUpdatedDateTime": CREATED,
        })
    }))
}

pub(crate) fn describe(_state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("recipeArn")?;
    let recipe = attune::arn::name_of("recipe", arn)
        .and_then(Recipe::parse)
        .ok_or_else(|| {
            sdk(attune::Error::NotFound {
                kind: "recipe",
                name: arn.to_owned(),
            })
        })?;
    Ok(json!({
        "recipe": {
            "name": recipe.name(),
            "recipeArn": recipe.arn(),
            "algorithmArn": format!("arn:aws:personalize:::algorithm/{}", recipe.name()),
            "status": "ACTIVE",
            "description": description(recipe),
            "recipeType": recipe.recipe_type(),
            "creationDateTime": CREATED,
            "lastUpdatedDateTime": CREATED,
        }
    }))
}
