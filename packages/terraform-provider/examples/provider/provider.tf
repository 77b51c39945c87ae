terraform {
  required_providers {
    capydb = {
      source  = "capydb/capydb"
      version = "~> 0.1"
    }
  }
}

# The API key is best left out of the configuration: set CAPYDB_API_KEY (an organization key,
# capy_live_...) in the environment Terraform runs in. api_url falls back to CAPYDB_API_URL.
provider "capydb" {
  api_url = "https://capydb.example.com"
}
